"""nbgrader configuration of the course (read by every nbgrader command run here).

solutions/NN_topic/ holds the instructor's source notebooks (full solutions and
hidden tests); nbgrader writes the student versions to notebooks/NN_topic/.
The gradebook (gradebook.db) and the folders a grading run creates
(submitted/, autograded/, feedback/, grades.csv) are listed in .gitignore.
The exchange (Exchange.root) is set by the machine, not here: see README.md,
"For instructors".
"""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

from te_course._exchange import CheckedCollect
from te_course._sandbox import autograde_preprocessors
from te_course.grading import RemoveModelAnswers, ScrubHiddenTestOutputs

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "te_course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Model answers to the Explore questions (cells tagged "model-answer") stay in solutions/: the release drops them.
c.GenerateAssignment.preprocessors = [RemoveModelAnswers, *GenerateAssignment.class_traits()["preprocessors"].default()]

# Collect takes each student's latest submission that their own account handed in, and fails naming any
# handed in under another student's name (nbgrader only logs those, and collects them): te_course/_exchange.py.
c.ExchangeFactory.collect = CheckedCollect

# Student code that never finishes: each cell gets at most this long when graded.
c.Execute.timeout = 120

# A graded cell a student deleted is put back and graded, not left for manual grading.
c.OverwriteCells.add_missing_cells = True

# Feedback must not reveal hidden tests.  By default nbgrader's feedback shows
# them (nbgrader issues #917, #1156): ClearHiddenTests removes them from the
# cell sources, and ScrubHiddenTestOutputs (the course's own, run first, while
# the sources still hold the regions) removes their lines from the tracebacks.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ScrubHiddenTestOutputs, ClearHiddenTests]

# Student code runs in a sandbox while it is graded (te_course/_sandbox.py, bubblewrap): the
# course folder, the gradebook, other submissions, homes and the network are out of reach, and
# these limits hold per kernel (the defaults shown; a whole chapter needs far less).  Where
# bubblewrap is missing, grading refuses and says what to install (--no-sandbox to override).
c.Autograde.autograde_preprocessors = autograde_preprocessors()
c.Sandbox.memory_mb = 6144  # address space, MB
c.Sandbox.processes = 512  # processes and threads
c.Sandbox.cpu_seconds = 1800  # CPU time of the whole notebook
c.Sandbox.file_size_mb = 256  # largest file written

# Hidden tests draw their cases while grading from a secret seed (te_course/_checks): set it here or in
# TE_COURSE_GRADING_SEED; left empty, the first grading run writes a random one to .grading_seed (mode 600).
# Change it every term: feedback shows students the cases they failed.
# c.HiddenChecks.seed = "..."
