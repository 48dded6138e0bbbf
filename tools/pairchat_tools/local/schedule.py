"""The scheduled sweeper under ``pairchat dev``: template.yaml runs it every minute in AWS
(EventBridge), and the emulator has no scheduler of its own, so without this a local stack
never cleans what a lost ``$disconnect`` leaves, and the ops dashboard's queue-depth history
(sampled by the sweeper) stays empty.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("pairchat_tools.local.sweeper")


class ScheduledSweeper(threading.Thread):
    """The sweeper on a timer, as EventBridge runs it in AWS: every ``every_s``, the first
    run one interval after start (not at start: its imports and scans would compete with the
    stack's first connections). One line when it cleaned something, one when a run failed."""

    def __init__(self, every_s: float) -> None:
        super().__init__(name="sweeper", daemon=True)
        self.every_s = every_s
        self.stopped = threading.Event()
        self.runs = 0

    def run(self) -> None:
        if self.stopped.wait(self.every_s):
            return
        from pairchat.bootstrap import sweeper_from_settings
        from pairchat.domain.sweeper import PoolSweeper, Sweeper
        from pairchat.settings import Settings

        sweeper: Sweeper | PoolSweeper | None = None
        while True:
            try:
                # The handlers' settings (this process's environment is theirs).
                sweeper = sweeper or sweeper_from_settings(Settings.from_env())
                r = sweeper.run()
                self.runs += 1
                if r.queue_entries_removed or r.rooms_reaped:
                    log.info(
                        "sweeper: removed %d stale queue entries, ended %d rooms (%d told)",
                        r.queue_entries_removed,
                        r.rooms_reaped,
                        r.partners_notified,
                    )
            except Exception as exc:  # Redis going away at shutdown, a bug: say it, go on
                if not self.stopped.is_set():
                    log.warning("sweeper run failed: %s: %s", type(exc).__name__, exc)
            if self.stopped.wait(self.every_s):
                return

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)
