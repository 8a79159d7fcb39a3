"""A real one-node Slurm for the tests: munged, slurmctld and slurmd started
as root from Debian's packages, everything they write under one folder.

    with Cluster(folder) as c:       # raises ClusterError saying what is missing or failed
        env = c.env                  # SLURM_CONF etc. for sbatch, squeue, sluice submit
        ...
    with Cluster(folder, accounting=True) as c:   # the same with an accounting database

Nothing of the system's is used or touched: munged gets a fresh key and a
socket of its own, the daemons free ports. Without accounting there is no
accounting storage (so `sacct` has no database, and sluice's squeue/scontrol
fallback is what answers); with it, a MariaDB server of its own (a fresh
data folder, TCP on 127.0.0.1 only) behind slurmdbd, as on a real cluster,
so that `sacct` answers.
Every daemon runs in the foreground as a child of this process, in its own
process group, and __exit__ stops them all (TERM, then KILL), on failure too.
This process is made the subreaper of everything they start, so that a
slurmstepd (which slurmd starts detached) or a job's process that outlives
them is stopped and reaped here too, not left to init.
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time

BINARIES = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "sacct")
ACCOUNTING_BINARIES = ("slurmdbd", "sacctmgr", "mariadbd", "mariadb-install-db", "mariadb")


class ClusterError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_line():
    """slurmd -C's NodeName line: this machine's CPUs, sockets, memory."""
    p = subprocess.run(["slurmd", "-C"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    for line in p.stdout.splitlines():
        if line.startswith("NodeName="):
            return line
    raise ClusterError("slurmd -C printed no NodeName line:\n" + p.stdout + p.stderr)


class Cluster:
    def __init__(self, folder, accounting=False):
        self.dir = os.path.abspath(folder)
        self.accounting = accounting
        self.procs = []

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def log(self, name):
        try:
            with open(os.path.join(self.dir, "log", name)) as f:
                return f.read()[-4000:]
        except OSError as e:
            return "(%s)" % e

    def spawn(self, name, argv, env=None):
        out = open(os.path.join(self.dir, "log", name + ".out"), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                             start_new_session=True)
        out.close()
        self.procs.append((name, p))
        return p

    def start(self):
        PR_SET_CHILD_SUBREAPER = 36
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        missing = [b for b in BINARIES + (ACCOUNTING_BINARIES if self.accounting else ()) if not shutil.which(b)]
        if missing:
            raise ClusterError("missing %s: scripts/bootstrap must install Debian's slurm-wlm and munge (and, for "
                               "the accounting database, slurmdbd and mariadb-server)" % ", ".join(missing))
        if os.geteuid() != 0:
            raise ClusterError("the Slurm test starts munged, slurmctld and slurmd itself and must run as root "
                               "(as CI does)")
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        for sub in ("munge", "state", "spool", "log"):
            os.makedirs(os.path.join(self.dir, sub))
        # munged wants its socket's folder reachable by all, its key private
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "munge"), 0o711)
        key = os.path.join(self.dir, "munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        self.munge_socket = os.path.join(self.dir, "munge", "socket")
        munge = os.path.join(self.dir, "munge")
        # --force: munged refuses root and world-readable parents (/tmp) otherwise
        self.spawn("munged", ["munged", "-F", "--force", "--socket", self.munge_socket, "--key-file", key,
                              "--log-file", os.path.join(munge, "log"), "--pid-file", os.path.join(munge, "pid"),
                              "--seed-file", os.path.join(munge, "seed")])
        self.wait_for(lambda: os.path.exists(self.munge_socket), 10, "munged's socket", "munged.out")

        host = socket.gethostname().split(".")[0]
        node = node_line()
        # the NodeName line of slurmd -C, with this host's short name and no UpTime
        fields = [f for f in node.split() if not f.startswith(("NodeName=", "UpTime="))]
        self.partition = "sluicetest"
        conf = os.path.join(self.dir, "slurm.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "ClusterName=sluicetest",
                # addresses given: nothing needs to look the host name up (a
                # fresh machine or a chroot may have no /etc/hosts entry for it)
                "SlurmctldHost=%s(127.0.0.1)" % host,
                "SlurmUser=root",
                "SlurmdUser=root",
                "SlurmctldPort=%d" % free_port(),
                "SlurmdPort=%d" % free_port(),
                "AuthType=auth/munge",
                "CredType=cred/munge",
                "AuthInfo=socket=%s" % self.munge_socket,
                "StateSaveLocation=%s/state" % self.dir,
                "SlurmdSpoolDir=%s/spool" % self.dir,
                "SlurmctldPidFile=%s/slurmctld.pid" % self.dir,
                "SlurmdPidFile=%s/slurmd.pid" % self.dir,
                "SlurmctldLogFile=%s/log/slurmctld.log" % self.dir,
                "SlurmdLogFile=%s/log/slurmd.log" % self.dir,
                # no cgroups in a container: follow processes by parent id
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core",
                "SchedulerType=sched/backfill",
                # the scheduler looks at the queue every second, not every 60 s
                "SchedulerParameters=sched_interval=1",
                "ReturnToService=2",
                "MpiDefault=none",
                *self.accounting_lines(),
                "JobCompType=jobcomp/none",
                # ended jobs stay in the controller (for squeue/scontrol) this long
                "MinJobAge=600",
                "NodeName=%s NodeAddr=127.0.0.1 NodeHostname=%s %s State=UNKNOWN" % (host, host, " ".join(fields)),
                "PartitionName=%s Nodes=%s Default=YES MaxTime=INFINITE State=UP" % (self.partition, host),
                "",
            ]))
        self.env = dict(os.environ, SLURM_CONF=conf)
        for k in [k for k in self.env if k.startswith(("SLURM_", "SBATCH_", "SQUEUE_")) and k != "SLURM_CONF"]:
            del self.env[k]  # a test started inside a job must not talk to that job's Slurm
        if self.accounting:
            self.start_database(host)
        self.spawn("slurmctld", ["slurmctld", "-D", "-i"], env=self.env)
        self.spawn("slurmd", ["slurmd", "-D"], env=self.env)

        def idle():
            p = subprocess.run(["sinfo", "-h", "-o", "%T"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=self.env, timeout=10)
            return p.returncode == 0 and p.stdout.strip() == "idle"
        self.wait_for(idle, 60, "the node to be idle in sinfo", "slurmctld.log")

    def accounting_lines(self):
        if not self.accounting:
            return ["AccountingStorageType=accounting_storage/none", "JobAcctGatherType=jobacct_gather/none"]
        self.dbd_port = free_port()
        return ["AccountingStorageType=accounting_storage/slurmdbd", "AccountingStorageHost=127.0.0.1",
                "AccountingStoragePort=%d" % self.dbd_port, "JobAcctGatherType=jobacct_gather/linux",
                # for slurmdbd connections this names munged's socket (AuthInfo is not used for them)
                "AccountingStoragePass=%s" % self.munge_socket]

    def run(self, argv, what):
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env,
                           timeout=60)
        if p.returncode != 0:
            raise ClusterError("%s failed (exit %d):\n%s" % (what, p.returncode, p.stdout[-3000:]))
        return p.stdout

    def start_database(self, host):
        """MariaDB in a fresh folder, then slurmdbd on it, then the cluster registered."""
        db = os.path.join(self.dir, "mariadb")
        sock = os.path.join(db, "socket")
        os.makedirs(os.path.join(db, "data"))
        self.run(["mariadb-install-db", "--no-defaults", "--user=root", "--datadir=" + os.path.join(db, "data"),
                  "--auth-root-authentication-method=normal", "--skip-test-db",
                  # DNS may not know this host (a fresh root): the grants use 127.0.0.1 anyway
                  "--force"],
                 "mariadb-install-db")
        port = free_port()
        self.spawn("mariadbd", ["mariadbd", "--no-defaults", "--user=root", "--datadir=" + os.path.join(db, "data"),
                                "--socket=" + sock, "--port=%d" % port, "--bind-address=127.0.0.1",
                                "--skip-name-resolve", "--pid-file=" + os.path.join(db, "pid"),
                                "--log-error=" + os.path.join(self.dir, "log", "mariadbd.log")])
        self.wait_for(lambda: os.path.exists(sock), 30, "MariaDB's socket", "mariadbd.log")
        password = os.urandom(8).hex()
        self.run(["mariadb", "--no-defaults", "--socket=" + sock, "-uroot", "-e",
                  "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '%s'; "
                  "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" % password], "creating the database user")
        conf = os.path.join(self.dir, "slurmdbd.conf")  # slurmdbd reads it beside slurm.conf
        with open(conf, "w") as f:
            f.write("\n".join([
                "AuthType=auth/munge", "AuthInfo=socket=%s" % self.munge_socket,
                "DbdHost=%s" % host, "DbdAddr=127.0.0.1", "DbdPort=%d" % self.dbd_port, "SlurmUser=root",
                "StorageType=accounting_storage/mysql", "StorageHost=127.0.0.1", "StoragePort=%d" % port,
                "StorageUser=slurm", "StoragePass=%s" % password, "StorageLoc=slurm_acct_db",
                "PidFile=%s/slurmdbd.pid" % self.dir, "LogFile=%s/log/slurmdbd.log" % self.dir, ""]))
        os.chmod(conf, 0o600)  # slurmdbd refuses a configuration others can read (it holds a password)
        self.spawn("slurmdbd", ["slurmdbd", "-D"], env=self.env)

        def dbd_up():
            p = subprocess.run(["sacctmgr", "-n", "list", "cluster"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=self.env, timeout=30)
            return p.returncode == 0
        self.wait_for(dbd_up, 60, "slurmdbd answering sacctmgr", "slurmdbd.log")
        self.run(["sacctmgr", "-i", "add", "cluster", "sluicetest"], "sacctmgr add cluster")

    def wait_for(self, cond, seconds, what, logname):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for name, p in self.procs:
                if p.poll() is not None:
                    raise ClusterError("%s exited with %s while waiting for %s:\n%s\n%s" % (
                        name, p.returncode, what, self.log(name + ".out"), self.log(logname)))
            if cond():
                return
            time.sleep(0.25)
        raise ClusterError("no %s after %d s:\n%s" % (what, seconds, self.log(logname)))

    def stop(self):
        """Stops the daemons in reverse order: TERM, then KILL after 10 s."""
        for name, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(10)
        self.procs = []
        self.stop_orphans()

    @staticmethod
    def children():
        me, out = os.getpid(), []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    stat = f.read()
            except OSError:
                continue
            # the command may hold spaces and parentheses: fields after the last ')'
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                out.append(int(pid))
        return out

    def stop_orphans(self):
        """Stops and reaps what the daemons left to this process (the subreaper)."""
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            pids = self.children()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            end = time.monotonic() + wait
            while pids and time.monotonic() < end:
                for pid in list(pids):
                    try:
                        done, _ = os.waitpid(pid, os.WNOHANG)
                    except ChildProcessError:
                        done = pid
                    if done:
                        pids.remove(pid)
                time.sleep(0.1)
            if not pids:
                return
