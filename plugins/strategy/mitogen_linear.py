"""The linear strategy, run through Mitogen: one persistent interpreter per host instead of a new
Python (and, over SSH, a new sudo) for every task. A no-change site.yml takes about half the time.

ansible.cfg selects it (strategy = mitogen_linear). It comes from the `mitogen` package of the
controller's toolchain (requirements/controller.txt); to run without it, set ANSIBLE_STRATEGY=linear.

Plays that declare `connection: local` run on the controller alone and gain nothing from Mitogen;
they run with Ansible's own linear strategy. (molecule's docker driver plays are such plays, and
their asynchronous docker_container jobs never report back under Mitogen.)
"""

from ansible.errors import AnsibleError

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError as error:  # a controller without the toolchain of requirements/controller.txt
    raise AnsibleError(
        f"ansible.cfg selects the mitogen_linear strategy, but Mitogen does not import ({error}): "
        "run `make setup`, or set ANSIBLE_STRATEGY=linear to use Ansible's own."
    ) from error

Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Linear):
    """Ansible's linear strategy with Mitogen's connection and module runner mixed in."""

    def run(self, iterator, play_context, result=0):
        if iterator._play.connection == "local":
            return Linear.run(self, iterator, play_context)
        return super().run(iterator, play_context)
