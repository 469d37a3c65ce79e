"""The instructor's ``~/.jupyter/nbgrader_config.py`` on the hub: the course folder, and its configuration loaded.

The formgrader runs from the instructor's home folder.  It must find the course (``~/te_course``,
or ``TE_COURSE_ROOT``) and grade, collect and give feedback with the course's own
``nbgrader_config.py``: the course's collect (which refuses forgeries) and its feedback steps
(which hide hidden tests; nbgrader's defaults show them).  nbgrader 0.9.6 loads the course
folder's ``nbgrader_config.py`` by itself once ``CourseDirectory.root`` is set (measured on the
test hub with the ``load_subconfig`` line below removed: the same collect, the same feedback);
loading it here as well keeps that true whatever a later nbgrader does, and keeps it first for
``python -m te_course.grading`` and nbgrader's commands run from the home folder.
``tests/hub/test_hub.py`` installs this file for its instructor and checks what a student
fetches: feedback without a hidden-test line, from a collect that refused a forgery.
"""

import os

c = get_config()  # noqa: F821  (nbgrader defines it when it reads this file)
course = os.environ.get("TE_COURSE_ROOT") or os.path.expanduser("~/te_course")
c.CourseDirectory.root = course
load_subconfig(os.path.join(course, "nbgrader_config.py"))  # noqa: F821  (likewise)
