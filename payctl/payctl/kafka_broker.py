"""The embedded broker: Apache Kafka in KRaft mode, one node that is broker and controller, run on
the machine's JDK from the jars `make install` copies out of Maven (`kafka/pom.xml`). Its
storage, settings and class-data archive live in one directory of the stack's data dir and its
log in the stack's logs; it ends with the process that started it, however that one ends
(`payctl.process.end_with_this_process`)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from confluent_kafka.admin import AdminClient

from payctl.embedded import free_port, wait_for
from payctl.errors import StackError
from payctl.process import end_with_this_process

if TYPE_CHECKING:
    from collections.abc import Mapping

# Where `make install` puts the broker's jars (kafka/pom.xml); KAFKA_LIBS_DIR points elsewhere.
DEFAULT_LIBS_DIR = Path(__file__).resolve().parents[2] / ".tools" / "kafka" / "libs"
MIN_JAVA = 17  # Kafka 4's broker needs Java 17

# A small machine (2 cores) runs the broker beside PostgreSQL, a dozen Python processes and, in
# the test suite, a few more brokers. Measured here from `java` to the first metadata answer
# (docs/payctl.md): the default flags 3.4-4.0 s and 5.0-5.6 s of CPU; the serial collector
# 3.0-3.4 s / 4.4-4.9 s; C1 only 2.6 s / 2.8-3.0 s; with the class-data archive 1.5-1.7 s /
# 1.6-1.8 s.
JVM_FLAGS: tuple[str, ...] = (
    "-Xms64m",
    "-Xmx512m",
    # One collector thread and no concurrent phases: two cores are shared with everything else.
    "-XX:+UseSerialGC",
    # C1 only: most of the start-up CPU is C2 compiling. Peak throughput is a little lower.
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
)

# Beyond Kafka's defaults, for one node on a small machine.
BROKER_SETTINGS: Mapping[str, str] = {
    # Internal topics: one replica (there is one node), few partitions.
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    # Threads sized for two cores shared with everything else, not for a server (defaults 3, 8,
    # 10, 4): each idle one still wakes a few times a second.
    "num.network.threads": "1",
    "num.io.threads": "1",
    "background.threads": "1",
    "group.coordinator.threads": "1",
    "log.cleaner.threads": "1",
    # Consumer groups (KIP-848, group.protocol=consumer): a member that stops heartbeating is
    # out after 10 s and its partitions go to the others; assignments travel on heartbeats, 5 s
    # apart as Kafka's default (1 s cost the idle broker another 1.3 % of a core, 2 s 0.7 %).
    # Kafka's default session timeout is 45 s, with minimums to match.
    "group.consumer.session.timeout.ms": "10000",
    "group.consumer.min.session.timeout.ms": "10000",
    "group.consumer.heartbeat.interval.ms": "5000",
    "group.consumer.min.heartbeat.interval.ms": "5000",
    "group.initial.rebalance.delay.ms": "0",
    # The controller appends a no-op record this often when nothing else happens (default
    # 500 ms): the largest share of an idle broker's CPU.
    "metadata.max.idle.interval.ms": "5000",
}


# Group kinds the project does not use, off from the first start (share groups, KIP-932;
# Kafka Streams groups, KIP-1071): their coordinators then have nothing to keep time for.
UNUSED_FEATURES = ("share.version", "streams.version")


@dataclass(frozen=True)
class KafkaInstall:
    """A JDK and the broker's jars, checked to be usable."""

    java: str
    java_version: str
    libs: Path

    @property
    def classpath(self) -> str:
        return f"{self.libs}/*"

    @property
    def kafka_version(self) -> str:
        [jar] = self.libs.glob("kafka_2.13-*.jar")
        return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")

    @property
    def class_archive(self) -> Path:
        """The broker's classes as this JDK loaded them (class-data sharing): made by the first
        broker that stops cleanly, used by every later start."""
        release = re.sub(r"[^\w.-]", "_", self.java_version)
        return self.libs.parent / f"kafka-{self.kafka_version}-jdk-{release}.jsa"


def find_install(env: Mapping[str, str]) -> KafkaInstall:
    """The JDK (JAVA_HOME, else `java` on PATH) and the jars (KAFKA_LIBS_DIR, else where
    `make install` put them); a `StackError` naming what is missing and how to get it."""
    java_home = env.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise StackError(
            f"the embedded broker needs Java {MIN_JAVA} or newer and there is none "
            f"({'JAVA_HOME=' + java_home if java_home else 'no java on PATH'}): install a JDK "
            f"(on Debian: apt-get install openjdk-{MIN_JAVA}-jdk-headless) or set "
            "KAFKA_BOOTSTRAP_SERVERS to a Kafka cluster of your own"
        )
    version = _java_version(java)
    major = re.match(r"\d+", version)
    if major is None or int(major.group()) < MIN_JAVA:
        raise StackError(
            f"the embedded broker needs Java {MIN_JAVA} or newer; {java} is Java {version}"
        )
    libs = Path(env.get("KAFKA_LIBS_DIR") or DEFAULT_LIBS_DIR)
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise StackError(
            f"Apache Kafka's jars are not in {libs}: run `make install`, which fetches them "
            "with Maven (mvn) as kafka/pom.xml pins them"
        )
    return KafkaInstall(java, version, libs)


def _java_version(java: str) -> str:
    try:
        shown = subprocess.run(
            [java, "-XshowSettings:properties", "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stderr
    except (OSError, subprocess.SubprocessError) as e:
        raise StackError(f"{java} does not run: {e}") from e
    found = re.search(r"^\s*java\.version = (\S+)", shown, re.MULTILINE)
    if not found:
        raise StackError(f"cannot tell which Java {java} is:\n{shown[-500:]}")
    return found.group(1)


def kafka_uuid() -> str:
    """A cluster id as Kafka makes them: 16 random bytes, URL-safe base64 without padding, and
    (as Kafka's Uuid.randomUuid) never starting with "-", which a command line reads as an
    option (`kafka-storage format --cluster-id -x...` fails)."""
    while True:
        made = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not made.startswith("-"):
            return made


class EmbeddedBroker:
    """Apache Kafka on 127.0.0.1:`port` with its storage in `data_dir`, formatted on first
    start and kept across restarts."""

    def __init__(self, install: KafkaInstall, data_dir: Path, port: int, log_file: Path) -> None:
        self.install = install
        self.data_dir = data_dir
        self.port = port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self._archive_draft: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.data_dir / "storage"

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        properties = self._write_settings()
        if not (self.storage / "meta.properties").exists():
            self._format(properties)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [self.install.java, *self._jvm_flags(), "kafka.Kafka", str(properties)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Own process group: a Ctrl-C in the terminal reaches payctl, which stops the
                # broker after the services.
                start_new_session=True,
                preexec_fn=end_with_this_process(),
            )
        wait_for(self._answers, timeout, f"broker on {self.bootstrap}")

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM: a controlled shutdown, its logs flushed and marked clean (the next start
        recovers nothing); SIGKILL after `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        draft, self._archive_draft = self._archive_draft, None
        if draft is not None and draft.exists():
            if self.process.returncode in (0, 143, -signal.SIGTERM):
                # Atomic: brokers of other stacks may be starting from the archive right now.
                os.replace(draft, self.install.class_archive)
            else:
                draft.unlink()

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"broker exited with {self.process.returncode}; see {self.log_file}")
        # A plain connect first: librdkafka would log every refused connection to stderr.
        socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        metadata = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        return bool(metadata.brokers)

    def _jvm_flags(self) -> list[str]:
        flags = [*JVM_FLAGS, f"-Dlog4j2.configurationFile={self._write_log_config()}"]
        archive = self.install.class_archive
        if archive.exists():
            flags.append(f"-XX:SharedArchiveFile={archive}")
        else:
            # One draft per broker: several may start before the first archive exists.
            self._archive_draft = archive.with_name(f"{archive.name}.{uuid.uuid4().hex}.draft")
            flags.append(f"-XX:ArchiveClassesAtExit={self._archive_draft}")
        return [*flags, "-cp", self.install.classpath]

    def _write_settings(self) -> Path:
        # The controller's port is chosen anew at each start: only this node dials it, and a
        # fixed one could be taken by the time the stack restarts.
        controller = free_port()
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.storage),
            **BROKER_SETTINGS,
        }
        path = self.data_dir / "server.properties"
        path.write_text(
            "# Written by payctl before each start of the broker: edits here are lost.\n"
            + "".join(f"{key}={value}\n" for key, value in settings.items())
        )
        return path

    def _write_log_config(self) -> Path:
        # To standard output, which is the broker's log file; INFO as Kafka's own default.
        path = self.data_dir / "log4j2.properties"
        path.write_text(
            "appender.out.type = Console\n"
            "appender.out.name = out\n"
            "appender.out.layout.type = PatternLayout\n"
            "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.out.ref = out\n"
        )
        return path

    def _format(self, properties: Path) -> None:
        try:
            subprocess.run(
                [self.install.java, *JVM_FLAGS, "-cp", self.install.classpath]
                + ["kafka.tools.StorageTool", "format", "--config", str(properties)]
                + ["--cluster-id", kafka_uuid()]
                + [arg for feature in UNUSED_FEATURES for arg in ("--feature", f"{feature}=0")],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
        except subprocess.CalledProcessError as e:
            raise StackError(
                f"formatting the broker's storage failed:\n{e.stdout}{e.stderr}"
            ) from e
