"""The video actor (``process_video``), as the Procfile names it: ``dramatiq tasks.video tasks.ai``."""

from tasks import actors

process_video = actors["video"]
