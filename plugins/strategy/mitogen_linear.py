"""The linear strategy, run through Mitogen: one persistent interpreter per host instead of a new
Python (and, over SSH, a new sudo) for every task. A no-change site.yml takes about half the time.

ansible.cfg selects it (strategy = mitogen_linear). It comes from the `mitogen` package of the
controller's toolchain (requirements/controller.txt); to run without it, set ANSIBLE_STRATEGY=linear.

Two differences from Mitogen's own strategy plugin:
- Plays that declare `connection: local` run on the controller alone and gain nothing from Mitogen;
  they run with Ansible's linear strategy. (molecule's docker driver plays are such plays, and their
  asynchronous docker_container jobs never report back under Mitogen.)
- The docker connection named by its collection, community.docker.docker (as molecule's inventory
  names it), runs through mitogen_docker like its short name `docker` does: one interpreter per
  container for the whole run instead of a `docker exec` of a new Python for every task.
"""

from ansible.errors import AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import action_loader, filter_loader, test_loader

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError as error:  # a controller without the toolchain of requirements/controller.txt
    raise AnsibleError(
        f"ansible.cfg selects the mitogen_linear strategy, but Mitogen does not import ({error}): "
        "run `make setup`, or set ANSIBLE_STRATEGY=linear to use Ansible's own."
    ) from error

Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)

# Connection plugins known by another name to Mitogen's redirection.
ALIASES = {"community.docker.docker": "docker"}
_redirect = ansible_mitogen.strategy.wrap_connection_loader__get_with_context


def _redirect_aliases(name, *args, **kwargs):
    if name in ALIASES:
        name = ALIASES[name]
        if args and isinstance(args[0], PlayContext) and args[0].connection in ALIASES:
            context = args[0].copy()
            context.connection = ALIASES[context.connection]
            args = (context, *args[1:])
    return _redirect(name, *args, **kwargs)


# Installed by StrategyMixin.run() for the duration of each play, under this name.
ansible_mitogen.strategy.wrap_connection_loader__get_with_context = _redirect_aliases


# Action plugins nearly every onebox task uses (`normal` runs a module that has no action plugin).
COMMON_ACTIONS = (
    "normal",
    "command",
    "template",
    "copy",
    "set_fact",
    "assert",
    "debug",
    "validate_argument_spec",
)


def _warm_plugin_caches():
    """Load the Jinja filters and tests and the common action plugins in the controller's main
    process, once, before it forks a worker for each task: every worker then inherits them, where
    each used to load them again (about 3 ms a task, 0.8 s of a no-change site.yml)."""
    list(filter_loader.all())
    list(test_loader.all())
    for name in COMMON_ACTIONS:
        action_loader.get(f"ansible.builtin.{name}", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Linear):
    """Ansible's linear strategy with Mitogen's connection and module runner mixed in."""

    def run(self, iterator, play_context, result=0):
        _warm_plugin_caches()
        if iterator._play.connection == "local":
            return Linear.run(self, iterator, play_context)
        return super().run(iterator, play_context)
