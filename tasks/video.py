"""The video actor (``process_video``), as the Procfile names it: ``dramatiq tasks.video tasks.ai``,
and the actors of a long video's parts (``tasks.video_parts``)."""

import tasks.video_parts  # noqa: F401 - declares the parts' actors on the same broker
from tasks import actors

process_video = actors["video"]
