"""A store under a prefix of an S3-compatible object store (``s3://BUCKET/PATH.zarr``), by
obstore (chosen over s3fs by measurement: pyproject.toml, the ``s3`` extra).

An object store has no rename and no directories. Whole objects are written by one PUT
(readers see the old object or the new); a conditional create is ``If-None-Match: *``; a
conditional replace is ``If-Match: <ETag>`` of the version read, which the server refuses
(412) when the object changed since: of two takers exactly one wins.

Credentials and endpoint come from the standard places, as the AWS tools read them:
``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_REGION`` (or ``lifbatch.s3.endpoint`` / ``lifbatch.s3.region`` in lifbatch.yaml); a plain
``http://`` endpoint is allowed. They are never printed: messages name the store's URL and
the endpoint only.
"""

from __future__ import annotations

import os

from ..errors import StoreError
from . import Conflict, Storage, Unavailable

__all__ = ["S3Storage"]


StorageUnreachable = Unavailable


def _settings() -> dict:
    from .. import config

    out = {}
    for key in ("endpoint", "region"):
        value = config.get(f"s3.{key}", None)
        if value:
            out[key] = str(value)
    return out


class S3Storage(Storage):
    local = False

    def __init__(self, location: str):
        from ..errors import missing_extra

        try:
            import obstore  # noqa: F401
            from obstore.store import S3Store
        except ImportError:
            raise missing_extra(f"the store '{location}'", "s3", "obstore") from None
        self.location = location.rstrip("/")
        rest = self.location.split("://", 1)[1]
        self.bucket, _, prefix = rest.partition("/")
        self.prefix = prefix.strip("/")
        settings = _settings()
        endpoint = settings.get("endpoint") or os.environ.get("AWS_ENDPOINT_URL_S3") or \
            os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT")
        self.endpoint = endpoint
        config = {}
        if settings.get("endpoint"):
            config["endpoint"] = settings["endpoint"]
        if settings.get("region"):
            config["region"] = settings["region"]
        elif not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
            config["region"] = "us-east-1"  # (what an S3-compatible server without regions accepts)
        client = {"allow_http": True} if endpoint and endpoint.startswith("http://") else {}
        retry = {"max_retries": 2, "retry_timeout": __import__("datetime").timedelta(seconds=10)}
        self._store = S3Store(self.bucket, prefix=self.prefix or None, config=config or None,
                              client_options=client or None, retry_config=retry)

    # ------------------------------------------------------------------ errors
    def _failed(self, exc: Exception, what: str) -> Exception:
        """One line for a request the object store refused or could not answer."""
        import obstore.exceptions as oe

        text = str(exc)
        where = f"store '{self.location}'" + (f" at {self.endpoint}" if self.endpoint else "")
        if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
            return StoreError(f"{where}: the bucket '{self.bucket}' does not exist; create it first "
                              f"(e.g. `aws s3 mb s3://{self.bucket}`), or give another s3://BUCKET/PATH")
        if isinstance(exc, (oe.PermissionDeniedError, oe.UnauthenticatedError)) or \
                any(code in text for code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                                              "403 Forbidden")):
            return StoreError(f"{where}: the object store refused the credentials for {what} (access denied); "
                              "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION) to a key "
                              "allowed to read and write that bucket")
        reason = _short(text)
        return StorageUnreachable(f"{where}: the object store did not complete {what} ({reason}); nothing "
                                  "finished is lost: run the same command again once it answers")

    def _call(self, what: str, fn, *args, **kwargs):
        import obstore.exceptions as oe

        try:
            return fn(*args, **kwargs)
        except (FileNotFoundError, oe.NotFoundError) as exc:
            if "NoSuchBucket" in str(exc):
                raise self._failed(exc, what) from None
            raise
        except (oe.AlreadyExistsError, oe.PreconditionError):
            raise
        except Exception as exc:  # (obstore's GenericError and the like: the message, in one line)
            raise self._failed(exc, what) from None

    def failure(self, exc, what):
        import obstore.exceptions as oe

        if isinstance(exc, oe.BaseError) or (isinstance(exc, FileNotFoundError) and "NoSuchBucket" in str(exc)):
            return self._failed(exc, what)
        return None

    # ------------------------------------------------------------------ objects
    def read_bytes(self, key):
        found = self.read_versioned(key)
        return None if found is None else found[0]

    def read_versioned(self, key):
        import obstore
        import obstore.exceptions as oe

        try:
            got = self._call(f"reading {key}", obstore.get, self._store, key)
            return bytes(self._call(f"reading {key}", got.bytes)), got.meta["e_tag"]
        except (FileNotFoundError, oe.NotFoundError):
            return None

    def write_bytes(self, key, data):
        import obstore

        self._call(f"writing {key}", obstore.put, self._store, key, data)

    def create(self, key, data):
        import obstore
        import obstore.exceptions as oe

        try:
            return self._call(f"creating {key}", obstore.put, self._store, key, data, mode="create")["e_tag"]
        except (oe.AlreadyExistsError, oe.PreconditionError):
            raise Conflict(key) from None

    def replace(self, key, data, version):
        import obstore
        import obstore.exceptions as oe

        try:
            return self._call(f"replacing {key}", obstore.put, self._store, key, data,
                              mode={"e_tag": version})["e_tag"]
        except (oe.PreconditionError, oe.NotFoundError, FileNotFoundError, oe.AlreadyExistsError):
            raise Conflict(key) from None

    def copy(self, src, dst):
        import obstore

        self._call(f"copying {src}", obstore.copy, self._store, src, dst, overwrite=True)

    def commit(self, key, data):
        try:
            self.create(key, data)
        except Conflict:
            raise StoreError(f"store '{self.location}': {key} exists already, written by another command; "
                             "nothing was changed: run the same command again") from None

    take_over = replace  # (If-Match on the ETag read: of two takers, the server lets one write)

    def delete(self, key):
        import obstore
        import obstore.exceptions as oe

        try:
            self._call(f"deleting {key}", obstore.delete, self._store, key)
        except (FileNotFoundError, oe.NotFoundError):
            pass

    def delete_prefix(self, prefix):
        import obstore

        keys = self.list(prefix)
        for i in range(0, len(keys), 500):
            self._call(f"deleting {prefix}", obstore.delete, self._store, keys[i:i + 500])

    def exists(self, key):
        return self.identity(key) is not None

    def identity(self, key):
        import obstore
        import obstore.exceptions as oe

        try:
            return (self._call(f"reading {key}", obstore.head, self._store, key)["e_tag"],)
        except (FileNotFoundError, oe.NotFoundError):
            return None

    def _listed(self, prefix: str, *, first: bool = False) -> list[str]:
        """The keys under ``prefix`` ('' the whole store); only the first one with ``first``."""
        import obstore

        def run():
            out = []
            key = prefix.rstrip("/") + "/" if prefix.strip("/") else None
            for batch in obstore.list(self._store, key, chunk_size=1 if first else 1000):
                out.extend(str(meta["path"]) for meta in batch)
                if first and out:
                    break
            return out

        return self._call(f"listing {prefix or 'the store'}", run)

    def read_many(self, keys):
        import asyncio

        import obstore
        import obstore.exceptions as oe

        async def every():
            limit = asyncio.Semaphore(64)  # (requests in flight at once)

            async def one(key):
                async with limit:
                    try:
                        got = await obstore.get_async(self._store, key)
                        return bytes(await got.bytes_async())
                    except (FileNotFoundError, oe.NotFoundError) as exc:
                        if "NoSuchBucket" in str(exc):
                            raise
                        return None

            return await asyncio.gather(*(one(key) for key in keys))

        return self._call("reading the block markers", lambda: asyncio.run(every())) if keys else []

    def identities(self, keys):
        import asyncio

        import obstore
        import obstore.exceptions as oe

        async def one(key):
            try:
                return (await obstore.head_async(self._store, key))["e_tag"],
            except (FileNotFoundError, oe.NotFoundError) as exc:
                if "NoSuchBucket" in str(exc):
                    raise
                return None

        async def every():
            return await asyncio.gather(*(one(key) for key in keys))

        return self._call("reading the arrays' metadata", lambda: asyncio.run(every()))

    def list(self, prefix):
        return self._listed(prefix)

    def top(self):
        import obstore

        found = self._call("listing the store", obstore.list_with_delimiter, self._store, None)
        names = {str(m["path"]).rsplit("/", 1)[-1] for m in found["objects"]}
        # (some servers, SeaweedFS among them, list an emptied "directory": kept only with objects in it)
        names |= {name for name in (p.rstrip("/").rsplit("/", 1)[-1] for p in found["common_prefixes"])
                  if self.is_dir(name)}
        return sorted(names)

    def root_exists(self):
        return bool(self._listed("", first=True))

    def is_dir(self, key):
        return bool(self._listed(key, first=True))

    def make_dir(self, key):
        pass  # (an object store has no directories)

    def children(self, prefix, name):
        depth = prefix.count("/") + 2
        return [k for k in self.list(prefix) if k.endswith("/" + name) and k.count("/") == depth]

    def only_run_files(self, control, names):
        for key in self.list(control):
            rest = key[len(control) + 1:]
            if not rest.split("/", 1)[0].startswith(names):
                return False
        return True

    def clear(self, keep):
        import obstore

        keys = [k for k in self.list("") if not k.startswith(keep)]
        for i in range(0, len(keys), 500):
            self._call("removing the old store", obstore.delete, self._store, keys[i:i + 500])

    def zarr_store(self, *, read_only=False):
        from zarr.storage import ObjectStore

        return ObjectStore(self._store, read_only=read_only)


def _short(text: str) -> str:
    line = " ".join(text.split("Debug source:")[0].split())
    return line if len(line) <= 160 else line[:157] + "..."
