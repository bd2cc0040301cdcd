"""gunicorn settings that the Procfile's flags cannot say briefly (``-c python:ops.web.gunicorn_conf``).

The access log leaves out the Basic-auth user field (gunicorn's ``%(u)s``):
it is whatever a person typed into the user box, and people type passwords
there. The audit lines name the signed-in user instead.
"""

access_log_format = '%(h)s %(l)s - %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
