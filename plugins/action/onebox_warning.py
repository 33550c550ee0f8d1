"""onebox_warning: print a message as one of Ansible's own [WARNING] lines (ansible.cfg: action_plugins).

    - name: Warn that the backups share the database's disk
      onebox_warning:  # noqa: fqcn[action]
        msg: ...

It changes nothing and never fails: a warning the operator sees on every run, where `debug` output
would scroll by among the task results.
"""

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        message = str(self._task.args.get("msg", "")).strip()
        result.update(changed=False, msg=message)
        if message:
            result["warnings"] = [message]
        return result
