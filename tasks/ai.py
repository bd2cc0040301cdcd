"""The AI actor (``process_ai_job``), as the Procfile names it: ``dramatiq tasks.video tasks.ai``."""

from tasks import actors

process_ai_job = actors["ai"]
