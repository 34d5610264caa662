"""Running a sweep's runs: one process per run on this machine, or one Ray task per run.

Each run is :func:`run_one` in its own process: a new run starts with
:func:`agents.training.train` (or :func:`supervised.training.train_supervised`), a folder that already holds a run is resumed from its
checkpoints, a finished one is left alone (``train`` sees its ``final_model.zip``). A run
that raises is reported as failed with its error on one line, and the others go on.

Ctrl-C (or SIGTERM) reaches every worker; each saves a checkpoint at its current step and
reports itself interrupted; the same sweep command resumes them. A fresh process per run,
rather than a pool of long-lived workers, keeps a crash, a leak or a stray thread setting
from reaching the next run, at the cost of importing torch once per run (a few seconds).
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from experiment.config import TrainConfig, saved_method
from experiment.cmni_csv import read_cmni_csv
from experiment.run_folder import RunError, RunFolder, one_line
from supervised.config import CONFIG_CLASSES, SupervisedConfig
from sweeps.grid import STATUS_DONE, Grid, PlannedRun, SweepFolder

OUTCOME_DONE, OUTCOME_INTERRUPTED, OUTCOME_FAILED = "done", "interrupted", "failed"
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Outcome:
    """How one run ended.

    Attributes:
        name: the run's folder name.
        status: :data:`OUTCOME_DONE`, :data:`OUTCOME_INTERRUPTED` (checkpoint saved) or
            :data:`OUTCOME_FAILED`.
        steps: agent-steps the run has trained on (0 when unknown).
        wall_s: seconds this session spent in training (and measuring the ablation effect).
        message: the error on one line when failed; for a done run, a note (the ablation
            effect could not be measured), else "".
    """

    name: str
    status: str
    steps: int = 0
    wall_s: float = 0.0
    message: str = ""


def _interrupt_once(signum: int, frame: object) -> None:
    """The first SIGINT/SIGTERM stops training (a checkpoint is then saved); later ones,
    e.g. the terminal's Ctrl-C plus the one the sweep forwards, are ignored so that the
    save is not cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def run_one(name: str, run_dir: str, config_json: str, hparams: dict[str, Any] | None = None) -> Outcome:
    """Train, or resume, the run in ``run_dir`` with ``config_json``; never raises.

    ``hparams`` (name -> number or text) are written to the run's TensorBoard folder when the
    run starts, for TensorBoard's HParams tab. Runs in a worker process or a Ray task.
    """
    previous: dict[int, Any] = {}
    try:
        previous = {sig: signal.signal(sig, _interrupt_once) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (some Ray set-ups): Ray's cancel raises KeyboardInterrupt itself
        pass
    try:
        return _train_or_resume(name, run_dir, CONFIG_CLASSES[saved_method(config_json)].from_json(config_json), hparams)
    finally:  # a Ray worker lives on after the task: give it its own handlers back
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _train_or_resume(
    name: str, run_dir: str, config: TrainConfig | SupervisedConfig, hparams: dict[str, Any] | None
) -> Outcome:
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = str(config.torch_threads)
    start = time.perf_counter()
    try:
        if isinstance(config, SupervisedConfig):
            from supervised.training import train_supervised as train
        else:
            from agents.training import train

        run = RunFolder(run_dir)
        resume = run.is_run()
        if not resume and hparams:
            from experiment.tensorboard import write_hparams

            write_hparams(run.tb_dir, hparams)
        result = train(config, run_dir, resume=resume, progress_bar=False)
    except KeyboardInterrupt:
        return Outcome(name, OUTCOME_INTERRUPTED, 0, time.perf_counter() - start)
    except Exception as error:  # any error fails this run only: it is recorded and the sweep goes on
        return Outcome(name, OUTCOME_FAILED, 0, time.perf_counter() - start, one_line(error))
    if result.interrupted:
        return Outcome(name, OUTCOME_INTERRUPTED, int(result.num_timesteps), time.perf_counter() - start)
    note = _measure_ablation(RunFolder(run_dir))
    return Outcome(name, OUTCOME_DONE, int(result.num_timesteps), time.perf_counter() - start, note)


def _measure_ablation(run: RunFolder) -> str:
    """Measure the finished run's mirror-ablation effect for the report, while torch is loaded;
    "" when done or not measurable (no probe set), else the error: the run stays done, and
    ``sweep.py report`` tries again."""
    from evaluation.ablation_effect import ensure_ablation, measurable

    if not measurable(run):
        return ""
    try:
        ensure_ablation(run)
    except (RunError, KeyboardInterrupt) as error:
        return f"no ablation effect: {one_line(error)}"
    return ""


@dataclass(frozen=True)
class Job:
    """A run to start: its name, folder, config and TensorBoard hparams."""

    name: str
    run_dir: Path
    config: TrainConfig | SupervisedConfig
    hparams: dict[str, Any]

    def args(self) -> tuple[str, str, str, dict[str, Any]]:
        return self.name, str(self.run_dir), self.config.to_json(), self.hparams


# --------------------------------------------------------------------------- local processes


def _child(connection: multiprocessing.connection.Connection, args: tuple[str, str, str, dict[str, Any]]) -> None:
    connection.send(run_one(*args))
    connection.close()


def run_local(jobs: Sequence[Job], workers: int, on_outcome: Callable[[Outcome], None]) -> bool:
    """Run ``jobs``, at most ``workers`` at a time, each in a fresh (spawned) process;
    ``on_outcome`` is called in this process as each ends. Returns True when Ctrl-C or
    SIGTERM stopped the sweep: the running runs were interrupted (checkpoints saved) and the
    waiting ones not started."""
    context = multiprocessing.get_context("spawn")
    waiting = deque(jobs)
    active: dict[int, tuple[multiprocessing.process.BaseProcess, Any, Job]] = {}
    # explicit handlers: a shell starts background jobs with SIGINT ignored
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    stopping = False
    try:
        while (waiting and not stopping) or active:
            while waiting and not stopping and len(active) < workers:
                job = waiting.popleft()
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(send, job.args()), name=f"sweep:{job.name}")
                process.start()
                send.close()
                active[process.sentinel] = (process, receive, job)
            for sentinel in multiprocessing.connection.wait(list(active)):
                outcome = _collect(*active.pop(sentinel), interrupted=False)
                stopping |= outcome.status == OUTCOME_INTERRUPTED  # a signal reached the workers only
                on_outcome(outcome)
    except KeyboardInterrupt:
        stopping = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the workers are saving; a second Ctrl-C must not orphan them
        for process, _, _ in active.values():
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGINT)
        for process, receive, job in active.values():
            process.join()
            on_outcome(_collect(process, receive, job, interrupted=True))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return stopping


def _collect(process: multiprocessing.process.BaseProcess, receive: Any, job: Job, interrupted: bool) -> Outcome:
    """The outcome a worker sent, or a failure naming its exit code if it died without one."""
    try:
        outcome = receive.recv() if receive.poll() else None
    except (EOFError, OSError):
        outcome = None
    process.join()
    receive.close()
    if outcome is not None:
        return outcome
    if interrupted:
        return Outcome(job.name, OUTCOME_INTERRUPTED)
    return Outcome(job.name, OUTCOME_FAILED, message=f"the worker process died with exit code {process.exitcode}")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# --------------------------------------------------------------------------- Ray


def run_ray(jobs: Sequence[Job], address: str | None, workers: int, on_outcome: Callable[[Outcome], None]) -> bool:
    """Run ``jobs`` as Ray tasks (one CPU each): on a local Ray instance with ``workers``
    CPUs when ``address`` is None, else on the cluster at ``address`` (``auto`` for the one
    this machine belongs to). The run folders must be on a file system every node sees.
    Returns True when Ctrl-C stopped the sweep (running tasks are cancelled, which
    interrupts their training and saves a checkpoint)."""
    try:
        import ray
    except ImportError:
        raise RunError('--backend ray needs Ray: pip install -c constraints.txt -e ".[ray]"') from None
    if address is None:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    remote = ray.remote(num_cpus=1, max_retries=0)(run_one)
    pending = {remote.remote(*job.args()): job for job in jobs}
    interrupted = False
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            outcome = _ray_result(ray, ready[0], pending.pop(ready[0]))
            on_outcome(outcome)
            if outcome.status == OUTCOME_INTERRUPTED:  # a signal reached a worker only: stop as on Ctrl-C
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        for ref in pending:
            ray.cancel(ref)
        for ref, job in pending.items():
            outcome = _ray_result(ray, ref, job)
            if outcome.status == OUTCOME_FAILED and "cancel" in outcome.message.lower():
                outcome = Outcome(job.name, OUTCOME_INTERRUPTED)
            on_outcome(outcome)
    finally:
        ray.shutdown()
    return interrupted


def _ray_result(ray: Any, ref: Any, job: Job) -> Outcome:
    try:
        return ray.get(ref)
    except Exception as error:  # a task that died (node lost, cancelled) is a failed run
        return Outcome(job.name, OUTCOME_FAILED, message=one_line(error))


# --------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep session did: every outcome, and whether Ctrl-C stopped it."""

    outcomes: list[Outcome]
    interrupted: bool
    skipped: int

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == OUTCOME_FAILED]


def run_sweep(
    folder: SweepFolder,
    grid: Grid,
    runs: Sequence[PlannedRun],
    backend: str = "local",
    workers: int = 1,
    address: str | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> SweepOutcome:
    """Check the folder against the grid, lock it, and run every run that is not finished.

    Finished runs (``final_model.zip``) are skipped, interrupted ones resumed from their
    checkpoints, failed ones tried again. A failure is recorded in ``failed/<run>.txt``
    (cleared when the run later succeeds). One progress bar for the sweep and one line per
    finished run go through ``echo``.

    Raises:
        RunError: another sweep holds the folder, it holds another grid, a run's
            ``config.json`` differs from the plan; nothing has been written then.
    """
    from tqdm import tqdm

    with folder.lock():
        folder.check(grid, runs)
        folder.save_grid(grid)
        todo = [r for r in runs if folder.status(r.name) != STATUS_DONE]
        jobs = [Job(r.name, folder.run(r.name).path, r.config, dict(r.levels)) for r in todo]
        bar = tqdm(total=len(runs), initial=len(runs) - len(todo), unit="run", desc="sweep", disable=not progress,
                   dynamic_ncols=True)  # fmt: skip
        outcomes: list[Outcome] = []

        def finished(outcome: Outcome) -> None:
            outcomes.append(outcome)
            if outcome.status == OUTCOME_FAILED:
                folder.record_failure(outcome.name, outcome.message)
            elif outcome.status == OUTCOME_DONE:
                folder.clear_failure(outcome.name)
                bar.update(1)
            line = outcome_line(folder, outcome)
            bar.write(line) if progress else echo(line)

        try:
            if backend == "ray":
                interrupted = run_ray(jobs, address, workers, finished)
            else:
                interrupted = run_local(jobs, workers, finished)
        finally:
            bar.close()
    return SweepOutcome(outcomes, interrupted, len(runs) - len(todo))


def outcome_line(folder: SweepFolder, outcome: Outcome) -> str:
    """One line for a finished run: its status, steps, time and the last probe's numbers."""
    if outcome.status == OUTCOME_FAILED:
        return f"{outcome.name}: FAILED: {outcome.message}"
    if outcome.status == OUTCOME_INTERRUPTED:
        return f"{outcome.name}: interrupted (checkpoint saved; rerun the same command to resume)"
    text = f"{outcome.name}: done, {outcome.steps:,} steps in {outcome.wall_s:.0f} s"
    text += f" ({outcome.message})" if outcome.message else ""
    run = folder.run(outcome.name)
    if run.cmni_csv.is_file():
        rows = read_cmni_csv(run.cmni_csv).rows
        if rows:
            last = {"excess_cmni": math.nan, "z_untrained": math.nan, "mean_episode_score": math.nan, **rows[-1]}
            text += (f"; CMNI {last['cmni_total']:.4f} (excess {last['excess_cmni']:+.4f}, "
                     f"z {last['z_untrained']:.1f}), score {last['mean_episode_score']:.1f}")  # fmt: skip
    return text
