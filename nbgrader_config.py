"""nbgrader configuration of the course (read by every nbgrader command run here).

solutions/NN_topic/ holds the instructor's source notebooks (full solutions and
hidden tests); nbgrader writes the student versions to notebooks/NN_topic/.
The gradebook (gradebook.db) and the folders a grading run creates
(submitted/, autograded/, feedback/) are listed in .gitignore.
"""

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "te_course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Student code that never finishes: each cell gets at most this long when graded.
c.Execute.timeout = 120

# A graded cell a student deleted is put back and graded, not left for manual grading.
c.OverwriteCells.add_missing_cells = True
