"""The video kind's home: an uploaded source turned into an HLS ladder (CONTRACT sections 1-4b).

``model`` (statuses, transitions, steps, the ``VIDEO`` kind, values), ``rules``
(limits and the ladder), ``playlists`` and ``subtitles`` (HLS text), ``ports``
(the media processor) and ``handler`` (one video message, lock to final row).
"""
