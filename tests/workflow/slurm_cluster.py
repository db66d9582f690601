"""A real single-node SLURM cluster on localhost, for testing the SLURM profile.

Debian's packages (munge, slurmctld, slurmd, slurmdbd, slurm-client, mariadb-server) provide
the daemons; this module starts private copies of them, as the current user, in one directory:

* MariaDB, on a free port of 127.0.0.1, holding the accounting database;
* munged, with a fresh key and its own socket;
* slurmdbd, so that ``sacct`` answers as on a production cluster (the executor plugin's default
  status query; see docs/running.md, "Clusters");
* slurmctld and one slurmd: one node with the CPUs and memory given, one default partition,
  no cgroups (proctrack/linuxproc, task/none).

Nothing listens beyond 127.0.0.1, nothing outside the directory is written, and every wait is
bounded. ``stop`` ends only the processes this module started, by pid. Client commands see the
cluster through the environment in ``Cluster.env`` (SLURM_CONF).

Run it by hand to try the profile: ``python tests/slurm_cluster.py DIR`` starts the cluster,
prints the environment to export, and stops it on Ctrl-C.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = {
    "munged": "munge",
    "mungekey": "munge",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mariadb": "mariadb-client",
    "slurmdbd": "slurmdbd",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "sbatch": "slurm-client",
    "srun": "slurm-client",
    "sacct": "slurm-client",
    "sacctmgr": "slurm-client",
    "squeue": "slurm-client",
    "scancel": "slurm-client",
    "scontrol": "slurm-client",
    "sinfo": "slurm-client",
}
CLUSTER = "latentspin"
NODE = "node1"
ACCOUNT = "latentspin"


def missing_packages() -> list[str]:
    """The Debian packages whose programs are not on PATH (nor in /usr/sbin)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin"
    return sorted({pkg for prog, pkg in DAEMONS.items() if shutil.which(prog, path=path) is None})


def _which(prog: str) -> str:
    found = shutil.which(prog, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")
    if found is None:
        raise FileNotFoundError(f"{prog} not found (Debian package {DAEMONS[prog]})")
    return found


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def memory_mb() -> int:
    """This machine's memory in MB (what a node would report as RealMemory)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


@dataclass
class Cluster:
    root: Path
    cpus: int
    memory_mb: int
    env: dict = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def controller_log(self) -> Path:
        return self.root / "log" / "slurmctld.log"

    def run(self, *cmd: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        """A client command against this cluster."""
        return subprocess.run([_which(cmd[0]), *cmd[1:]], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check)

    # --- start ------------------------------------------------------------------------------

    def start(self, timeout: float = 90) -> Cluster:
        missing = missing_packages()
        if missing:
            raise FileNotFoundError(f"missing Debian packages: {' '.join(missing)}")
        for d in ("etc", "log", "run", "db", "state", "spool", "munge"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o700)
        db_port, dbd_port, ctld_port, slurmd_port = _free_ports(4)
        self.env = {**os.environ, "SLURM_CONF": str(self.conf),
                    "PATH": f"{self._srun_shim()}{os.pathsep}{os.environ.get('PATH', '')}"}
        deadline = time.monotonic() + timeout
        try:
            self._start_mariadb(db_port, deadline)
            self._start_munge(deadline)
            self._write_configs(db_port, dbd_port, ctld_port, slurmd_port)
            self._spawn("slurmdbd", [_which("slurmdbd"), "-D"])
            self._wait(lambda: self.run("sacctmgr", "-n", "list", "cluster", check=False).returncode == 0,
                       deadline, "slurmdbd to answer sacctmgr")
            user = getpass.getuser()
            for cmd in (("add", "cluster", CLUSTER), ("add", "account", ACCOUNT, f"Cluster={CLUSTER}"),
                        ("add", "user", user, f"Account={ACCOUNT}", f"Cluster={CLUSTER}")):
                self.run("sacctmgr", "-i", *cmd)
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i"])
            self._wait(lambda: self.run("scontrol", "ping", check=False).stdout.count("UP") > 0, deadline,
                       "slurmctld to answer scontrol ping")
            self._spawn("slurmd", [_which("slurmd"), "-D", "-N", NODE])
            self._wait(lambda: self.run("sinfo", "-h", "-o", "%T", check=False).stdout.strip() == "idle",
                       deadline, "the node to be idle in sinfo")
        except BaseException:
            self.stop()
            raise
        return self

    def _srun_shim(self) -> Path:
        """A directory holding an `srun` that points the real one at this cluster.

        A site's nodes find slurm.conf at its default path (or from slurmctld); this cluster's
        is in `root`, named by SLURM_CONF. The executor plugin's job step drops every SLURM_*
        variable before it calls srun inside a job, so the job's srun would look for
        /etc/slurm/slurm.conf. This shim restores the variable for srun alone."""
        d = self.root / "bin"
        d.mkdir(exist_ok=True)
        shim = d / "srun"
        shim.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec "{_which("srun")}" "$@"\n')
        shim.chmod(0o755)
        return d

    def _spawn(self, name: str, cmd: list[str]):
        log = open(self.root / "log" / f"{name}.out", "w")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def _wait(self, ready, deadline: float, what: str):
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode} while waiting for {what}; "
                                       f"see {self.root / 'log'}")
            try:
                if ready():
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"timed out waiting for {what}; see {self.root / 'log'}")

    def _start_mariadb(self, port: int, deadline: float):
        datadir = self.root / "db"
        user = getpass.getuser()
        subprocess.run([_which("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}", f"--user={user}",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       capture_output=True, text=True, check=True, timeout=120)
        sock = self.root / "run" / "mysqld.sock"
        self._spawn("mariadbd", [_which("mariadbd"), "--no-defaults", f"--datadir={datadir}", f"--user={user}",
                                 f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1",
                                 f"--pid-file={self.root / 'run' / 'mariadbd.pid'}",
                                 f"--log-error={self.root / 'log' / 'mariadbd.log'}",
                                 "--innodb-buffer-pool-size=32M", "--skip-name-resolve"])
        sql = [_which("mariadb"), "--no-defaults", f"--socket={sock}", "-uroot"]
        self._wait(lambda: subprocess.run([*sql, "-e", "SELECT 1"], capture_output=True, timeout=10).returncode == 0,
                   deadline, "MariaDB to accept connections")
        subprocess.run([*sql, "-e", "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; "
                        "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"],
                       capture_output=True, text=True, check=True, timeout=30)

    def _start_munge(self, deadline: float):
        d = self.root / "munge"
        subprocess.run([_which("mungekey"), "--create", f"--keyfile={d / 'munge.key'}"], check=True,
                       capture_output=True, timeout=30)
        self._spawn("munged", [_which("munged"), "--foreground", "--force", f"--key-file={d / 'munge.key'}",
                               f"--socket={d / 'munge.sock'}", f"--pid-file={d / 'munged.pid'}",
                               f"--log-file={self.root / 'log' / 'munged.log'}", f"--seed-file={d / 'munge.seed'}"])
        self._wait(lambda: (d / "munge.sock").exists(), deadline, "munged's socket")

    def _write_configs(self, db_port: int, dbd_port: int, ctld_port: int, slurmd_port: int):
        user, host = getpass.getuser(), socket.gethostname().split(".")[0]
        munge = f"AuthInfo=socket={self.root / 'munge' / 'munge.sock'}"
        run, log = self.root / "run", self.root / "log"
        self.conf.write_text("\n".join([
            f"ClusterName={CLUSTER}",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={slurmd_port}",
            f"SlurmUser={user}",
            f"SlurmdUser={user}",
            "AuthType=auth/munge",
            munge,
            "CredType=cred/munge",
            f"StateSaveLocation={self.root / 'state'}",
            f"SlurmdSpoolDir={self.root / 'spool'}/%n",
            f"SlurmctldPidFile={run / 'slurmctld.pid'}",
            f"SlurmdPidFile={run / 'slurmd.pid'}",
            f"SlurmctldLogFile={log / 'slurmctld.log'}",
            f"SlurmdLogFile={log / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "MpiDefault=none",
            "ReturnToService=2",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "AccountingStorageType=accounting_storage/slurmdbd",
            "AccountingStorageHost=127.0.0.1",
            f"AccountingStoragePort={dbd_port}",
            # with slurmdbd and munge, the "password" is the munge socket of connections to slurmdbd
            f"AccountingStoragePass={self.root / 'munge' / 'munge.sock'}",
            "JobCompType=jobcomp/none",
            "MinJobAge=300",
            "KillWait=5",
            # One GPU as a generic resource, so that jobs asking for --gpus are scheduled and the
            # test can read the allocation in sacct. Its "device" is /dev/null (this machine has no
            # GPU): a job that really uses CUDA still fails on it.
            "GresTypes=gpu",
            "AccountingStorageTRES=gres/gpu",
            f"NodeName={NODE} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={self.cpus} "
            f"RealMemory={self.memory_mb} Gres=gpu:1 State=UNKNOWN",
            "PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))
        (self.root / "etc" / "gres.conf").write_text(f"NodeName={NODE} Name=gpu Count=1 File=/dev/null\n")
        dbd = self.root / "etc" / "slurmdbd.conf"
        dbd.write_text("\n".join([
            "AuthType=auth/munge",
            munge,
            "DbdHost=localhost",
            "DbdAddr=127.0.0.1",
            f"DbdPort={dbd_port}",
            f"SlurmUser={user}",
            f"PidFile={run / 'slurmdbd.pid'}",
            f"LogFile={log / 'slurmdbd.log'}",
            "StorageType=accounting_storage/mysql",
            "StorageHost=127.0.0.1",
            f"StoragePort={db_port}",
            "StorageUser=slurm",
            "StoragePass=slurm",
            "StorageLoc=slurm_acct_db",
            "",
        ]))
        dbd.chmod(0o600)  # slurmdbd refuses a readable file: it holds the database password

    # --- stop -------------------------------------------------------------------------------

    def stop(self, timeout: float = 20):
        """Cancel what is still queued, then end the daemons this cluster started, newest first,
        by pid: SIGTERM, then SIGKILL after `timeout` seconds."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                self.run("scancel", "--full", "-u", getpass.getuser(), check=False, timeout=10)
            except (subprocess.TimeoutExpired, FileNotFoundError):
                pass
        for name, p in reversed(list(self.procs.items())):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self._kill_job_steps()

    def _kill_job_steps(self):
        """slurmstepd processes of this cluster's jobs, should any outlive slurmd (they may, by
        design, after a scancel that came too late): recognized by their name and by this
        cluster's SLURM_CONF in the environment they inherited from slurmd, killed by pid."""
        mark = f"SLURM_CONF={self.conf}".encode()
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if (proc / "cmdline").read_bytes().startswith(b"slurmstepd") and \
                        mark in (proc / "environ").read_bytes().split(b"\0"):
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ValueError):
                continue

if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "slurm-test").resolve()
    cluster = Cluster(root, os.cpu_count() or 1, memory_mb() - 1024).start()
    print(f"export SLURM_CONF={cluster.conf} PATH={cluster.env['PATH']}\n"
          "(Ctrl-C or SIGTERM stops the cluster)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
