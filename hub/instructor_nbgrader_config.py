"""The instructor's ``~/.jupyter/nbgrader_config.py`` on the hub: the course's own configuration, loaded.

The formgrader runs from the instructor's home folder, and nbgrader reads only the
``nbgrader_config.py`` of the folder it runs in and of the Jupyter config path.  With just
``CourseDirectory.root`` set, it would fall back to nbgrader's default folders (``source/``)
and default feedback steps, which show hidden tests to students (found by running the course
on a real hub).  Loading the course's file makes the formgrader grade and give feedback
exactly as ``python -m te_course.grading`` does.  ``tests/hub/test_hub.py`` installs this file
for its instructor and checks that the formgrader sees the course (the check that its feedback
holds no hidden test comes with the test of the whole journey).
"""

import os

c = get_config()  # noqa: F821  (nbgrader defines it when it reads this file)
course = os.environ.get("TE_COURSE_ROOT") or os.path.expanduser("~/te_course")
c.CourseDirectory.root = course
load_subconfig(os.path.join(course, "nbgrader_config.py"))  # noqa: F821  (likewise)
