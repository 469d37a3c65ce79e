"""JupyterHub for the course on one machine: every student and the instructor a Linux account of their own.

What ``make test-hub`` runs (tests/hub/test_hub.py), and what an instructor starts from
(README, "A large class on JupyterHub").  Settings come from the environment so that one
file serves both; each has the default an instructor's machine would use:

- ``TE_HUB_IP``, ``TE_HUB_PORT``: where the hub is reached (127.0.0.1:8000); the hub's own
  API and the proxy's API bind to 127.0.0.1 on ``TE_HUB_API_PORT`` and ``TE_HUB_PROXY_API_PORT``;
- ``TE_HUB_STATE``: the folder of the hub's database, cookie secret and pid files;
- ``TE_HUB_VENV``: the Python environment that every account runs (the students' lock plus
  jupyterhub), which every account must be able to read: not under /root;
- ``TE_HUB_PROXY``: the configurable-http-proxy command (``npm ci`` in hub/ installs the
  pinned one into hub/node_modules);
- ``TE_HUB_USERS``: the accounts allowed in, comma-separated; ``TE_HUB_ADMINS`` those who
  administer the hub (none by default); ``TE_HUB_INSTRUCTORS`` those who keep nbgrader's
  instructor tools (formgrader, create-assignment, course list): every other account starts
  with the Jupyter config folder hub/students/ first on its path, which switches them off;
- ``TE_COURSE_EXCHANGE``: the exchange folder, passed on to every server (the system-wide
  hub/system_nbgrader_config.py reads it; /srv/nbgrader/exchange when unset);
- ``TE_HUB_TEST_PASSWORD`` and ``TE_HUB_SERVICE_TOKEN``: only for the test, a shared password
  instead of the system's (PAM) logins, and the token of the service that drives the hub.

Sources: JupyterHub's configuration reference (https://jupyterhub.readthedocs.io), nbgrader's
"Using nbgrader with JupyterHub" (https://nbgrader.readthedocs.io).
"""

import os
import pwd
from pathlib import Path

c = get_config()  # noqa: F821  (JupyterHub defines it when it reads this file)

HERE = Path(__file__).resolve().parent
state = Path(os.environ.get("TE_HUB_STATE", "/srv/te_course_hub"))
venv = Path(os.environ.get("TE_HUB_VENV", "/opt/te_course/venv"))
ip = os.environ.get("TE_HUB_IP", "127.0.0.1")

c.JupyterHub.bind_url = f"http://{ip}:{os.environ.get('TE_HUB_PORT', '8000')}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ.get('TE_HUB_API_PORT', '8081')}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('TE_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [os.environ.get(
    "TE_HUB_PROXY", str(HERE / "node_modules" / ".bin" / "configurable-http-proxy"))]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.pid_file = str(state / "hub.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")

# Each user's server runs as their own Linux account, from the environment every account can read.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(venv / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {"PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"}
if os.environ.get("TE_COURSE_EXCHANGE"):
    c.Spawner.environment["TE_COURSE_EXCHANGE"] = os.environ["TE_COURSE_EXCHANGE"]
instructors = {u for u in os.environ.get("TE_HUB_INSTRUCTORS", "").split(",") if u}


def private_home_and_role(spawner):
    """Before a server starts: its account's home readable by that account only; students without instructor tools.

    ``useradd -m`` makes homes world-readable (mode 755) on Debian and Ubuntu, and a student
    could then read every other student's answers: found on a real hub.  Setting
    ``HOME_MODE 0700`` in /etc/login.defs fixes new accounts; this fixes the ones that exist.
    """
    name = spawner.user.name
    home = pwd.getpwnam(name).pw_dir
    mode = os.stat(home).st_mode & 0o7777
    if mode & 0o077:
        spawner.log.warning("%s's home %s was mode %o: made private (700)", name, home, mode)
        os.chmod(home, mode & 0o7700)
    if name not in instructors:
        spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": str(HERE / "students")}


c.Spawner.pre_spawn_hook = private_home_and_role
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120

users = {u for u in os.environ.get("TE_HUB_USERS", "").split(",") if u}
c.Authenticator.allowed_users = users
c.Authenticator.admin_users = {u for u in os.environ.get("TE_HUB_ADMINS", "").split(",") if u}
if os.environ.get("TE_HUB_TEST_PASSWORD"):  # the test's logins; a real hub keeps PAM (the accounts' passwords)
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = os.environ["TE_HUB_TEST_PASSWORD"]

token = os.environ.get("TE_HUB_SERVICE_TOKEN")
if token:  # the test drives the hub through its REST API as this service
    c.JupyterHub.services = [{"name": "te-course-test", "api_token": token}]
    c.JupyterHub.load_roles = [{
        "name": "te-course-test-driver",
        "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"],
        "services": ["te-course-test"],
    }]
