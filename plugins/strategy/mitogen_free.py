"""The free strategy, run through Mitogen: each host goes through the play at its own pace, one
persistent interpreter per host (mitogen_linear.py says why, and how to run without Mitogen). For a
play whose hosts do different work, such as molecule/postgresql-replica's replica, app host and
monitoring side by side: no host waits for another's task. Ansible's free strategy runs a run_once
task on every host (it warns so): keep such tasks out of the hosts' shared work."""

import importlib.util
from pathlib import Path

# The linear plugin's module first, for what both share: its check that Mitogen imports (a clear
# error without it), the aliases of the docker connection (installed as it is imported) and the
# warm plugin caches.
_spec = importlib.util.spec_from_file_location(
    "onebox_mitogen_linear", Path(__file__).with_name("mitogen_linear.py")
)
_linear = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_linear)

import ansible_mitogen.loaders  # noqa: E402 (after the linear module's check that it imports)
import ansible_mitogen.strategy  # noqa: E402

Free = ansible_mitogen.loaders.strategy_loader.get("free", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Free):
    """Ansible's free strategy with Mitogen's connection and module runner mixed in."""

    def run(self, iterator, play_context, result=0):
        _linear._warm_plugin_caches()
        if iterator._play.connection == "local":
            return Free.run(self, iterator, play_context)
        return super().run(iterator, play_context)
