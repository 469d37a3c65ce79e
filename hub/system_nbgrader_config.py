"""The hub's system-wide ``nbgrader_config.py``: where the exchange is, and which course this hub serves.

Install it as ``etc/jupyter/nbgrader_config.py`` in the environment every account runs
(``/opt/te_course/venv/etc/jupyter/``) or as ``/etc/jupyter/nbgrader_config.py``: every
nbgrader command and extension reads it, the students' *Assignments* tab, the instructor's
formgrader and ``python -m te_course.grading`` alike.

The exchange is one folder that every account can write to, created once by an administrator::

    install -d -m 1777 /srv/nbgrader/exchange

(mode 1777: anyone may create entries, nobody may remove another's).  The instructor's first
release creates ``te_course/outbound`` (755: students read the released notebooks),
``te_course/inbound`` (2733: students hand in, but cannot list or read each other's
submissions) and ``te_course/feedback`` (711).  ``TE_COURSE_EXCHANGE`` moves the folder (the
test puts it in a scratch folder); the hub passes it on to every server.

Source: nbgrader's "Exchanging assignment files" and "Using nbgrader with JupyterHub"
(https://nbgrader.readthedocs.io).  With several courses on one hub, drop ``course_id``
here and see the README ("Several courses on one hub").
"""

import os

c = get_config()  # noqa: F821  (nbgrader defines it when it reads this file)
c.Exchange.root = os.environ.get("TE_COURSE_EXCHANGE", "/srv/nbgrader/exchange")
c.CourseDirectory.course_id = "te_course"
# How collect tells who handed a submission in (te_course/_exchange.py): "accounts" on a hub of Linux
# accounts, "uid_of_name" on Kubernetes with a uid per user (hub/kubernetes/values.yaml sets it).
c.CheckedCollect.owners = os.environ.get("TE_COURSE_OWNERS", "accounts")
