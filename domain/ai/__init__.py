"""The AI kind's home: a registered engine run on a payload (CONTRACT sections 1-4a).

``model`` (statuses, transitions, steps, the ``AI`` kind, values), ``ports``
(the engine), ``handler`` (one AI message, lock to final row), ``captions``
(cues from a transcript) and ``captions_for_video`` (the transcribe job's
step into its video's player).
"""
