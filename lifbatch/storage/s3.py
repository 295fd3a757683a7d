"""A store under a prefix of an S3-compatible object store (``s3://BUCKET/PATH.zarr``), by
obstore (chosen over s3fs by measurement: pyproject.toml, the ``s3`` extra).

An object store has no rename and no directories. Whole objects are written by one PUT
(readers see the old object or the new); a conditional create is ``If-None-Match: *``; a
conditional replace is ``If-Match: <ETag>`` of the version read, which the server refuses
(412) when the object changed since: of two takers exactly one wins.

Credentials and endpoint come from the standard places, as the AWS tools read them, first
found first (:func:`_resolve`; docs/store-layout.md):

1. lifbatch's own settings (``lifbatch.s3.*`` in lifbatch.yaml, ``--set``,
   ``DASK_LIFBATCH__S3__*``), as the AWS CLI's command-line options: ``access-key-id`` +
   ``secret-access-key`` (+ ``session-token``), ``endpoint``, ``region``, ``profile``;
2. the environment: ``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``),
   ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``; an
   explicit ``lifbatch.s3.profile`` skips the environment's keys (as ``aws --profile`` does);
3. the profile's files: ``lifbatch.s3.profile``, else ``AWS_PROFILE``, else ``default``, in
   ``AWS_SHARED_CREDENTIALS_FILE`` (``~/.aws/credentials``, section ``[NAME]``) then
   ``AWS_CONFIG_FILE`` (``~/.aws/config``, section ``[profile NAME]`` or ``[default]``);
4. none of these: obstore's own chain (web identity, container and instance credentials).

The keys travel together (never a key id from one place with a secret from another); endpoint
and region are looked up each on its own. A plain ``http://`` endpoint is allowed. A profile
named but in neither file is refused in one line, and so is one whose keys come from
elsewhere (``role_arn``, ``sso_*``, ``web_identity_token_file``, ``credential_process``), which
lifbatch does not read. Credentials are never printed: messages
name the store's URL, the endpoint, and where the keys came from only.
"""

from __future__ import annotations

import asyncio
import configparser
import os
from typing import TYPE_CHECKING

from .. import config
from ..errors import StoreError, missing_extra
from .base import Conflict, Storage, Unavailable

try:  # (the extra `s3`: without it S3Storage says how to install it; this module loads for s3:// stores only)
    import obstore
    import obstore.exceptions as oe
    from obstore.store import S3Store

    _HAVE_OBSTORE = True
except ImportError:  # pragma: no cover - an install without the extra
    _HAVE_OBSTORE = False

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config, S3Credential, S3CredentialProvider

__all__ = ["S3Storage"]


StorageUnreachable = Unavailable


def _settings() -> dict:
    out = {}
    for key in ("endpoint", "region", "profile", "access-key-id", "secret-access-key", "session-token"):
        value = config.get(f"s3.{key}", None)
        if value:
            out[key] = str(value)
    return out


def _profile_files() -> tuple[str, str]:
    """The AWS credentials and config files, where the AWS CLI looks for them."""
    return (
        os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"),
        os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"),
    )


def _read_profile(name: str, where: str) -> dict | None:
    """The settings of the AWS profile ``name`` (credentials file over config file), None if
    neither file has it.

    The files are INI, read by configparser: botocore reads them too, but it is a 100 MB
    dependency for reading two INI files, and obstore (the client) does not read them.
    """
    credentials, config = _profile_files()
    found: dict | None = None
    for path, section in ((config, "default" if name == "default" else f"profile {name}"), (credentials, name)):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)  # (a missing file reads as empty)
        except configparser.Error as exc:
            reason = str(exc).splitlines()[0]
            raise StoreError(
                f"{where}: the AWS profile file {path} cannot be read ({reason}); fix or remove it"
            ) from None
        if parser.has_section(section):
            found = {**(found or {}), **{k.lower(): v.strip() for k, v in parser.items(section)}}
    return found


def _resolve(location: str) -> dict:
    """Where the store's credentials, endpoint and region come from (the module's docstring):
    keys ``credentials`` ((key id, secret, token or None) or None), ``source`` (where they came
    from, a name that is safe to print), ``endpoint``, ``region``."""
    settings, env = _settings(), os.environ
    where = f"store '{location}'"
    explicit = settings.get("profile")
    name = explicit or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    named_by = (
        "lifbatch.s3.profile"
        if explicit
        else (
            "AWS_PROFILE"
            if env.get("AWS_PROFILE")
            else "AWS_DEFAULT_PROFILE"
            if env.get("AWS_DEFAULT_PROFILE")
            else None
        )
    )
    profile = _read_profile(name, where)
    if profile is None and named_by:
        credentials, config = _profile_files()
        raise StoreError(
            f"{where}: the AWS profile '{name}' (from {named_by}) is in neither {credentials} nor "
            f"{config}; name a profile of those files, or set AWS_SHARED_CREDENTIALS_FILE / "
            "AWS_CONFIG_FILE to the files that have it"
        )
    profile = profile or {}
    half = [k for k in ("access-key-id", "secret-access-key") if not settings.get(k)]
    if len(half) == 1:
        raise StoreError(
            f"{where}: lifbatch.s3.{half[0]} is not set but its pair is; set both (or neither, to "
            "use the environment or an AWS profile)"
        )
    if not half:
        keys = (settings["access-key-id"], settings["secret-access-key"], settings.get("session-token"))
        source = "lifbatch.s3.access-key-id"
    elif not explicit and env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        keys = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN") or None)
        source = "AWS_ACCESS_KEY_ID"
    elif _unread(profile):
        raise StoreError(
            f"{where}: the AWS profile '{name}'{f' (from {named_by})' if named_by else ''} gets its keys "
            f"by {_unread(profile)}, which lifbatch does not read (only a profile's aws_access_key_id, "
            "aws_secret_access_key and aws_session_token); set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
            f"and AWS_SESSION_TOKEN (e.g. `eval $(aws configure export-credentials --profile {name} "
            "--format env)`), or lifbatch.s3.access-key-id, secret-access-key and session-token"
        )
    elif profile.get("aws_access_key_id") and profile.get("aws_secret_access_key"):
        keys = (profile["aws_access_key_id"], profile["aws_secret_access_key"], profile.get("aws_session_token"))
        source = f"the AWS profile '{name}'"
    else:
        keys, source = None, None
    endpoint = (
        settings.get("endpoint")
        or env.get("AWS_ENDPOINT_URL_S3")
        or env.get("AWS_ENDPOINT_URL")
        or env.get("AWS_ENDPOINT")
        or profile.get("endpoint_url")
    )
    region = (
        settings.get("region")
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or profile.get("region")
        or "us-east-1"
    )  # (what an S3-compatible server without regions accepts)
    return {"credentials": keys, "source": source, "endpoint": endpoint, "region": region}


#: a profile's settings by which the AWS tools get its keys elsewhere (an STS role, IAM Identity
#: Center, a program): lifbatch reads none of them, nor does obstore (whose Boto3CredentialProvider
#: would, through boto3, which lifbatch does not depend on)
_ELSEWHERE = ("web_identity_token_file", "role_arn", "sso_session", "sso_start_url", "sso_account_id", "sso_role_name")


def _unread(profile: dict) -> str | None:
    """The setting by which ``profile`` gets its keys in a way lifbatch does not read, or None: a
    role, web identity or IAM Identity Center (which the AWS tools take over the profile's own
    keys), or a credential_process when the profile has no keys of its own."""
    for key in _ELSEWHERE:
        if profile.get(key):
            return key
    if profile.get("credential_process") and not profile.get("aws_access_key_id"):
        return "credential_process"
    return None


class _Keys:
    """obstore's credential provider for keys found by :func:`_resolve` outside the environment:
    obstore itself reads the environment's, which must not mix in (a session token of other keys)."""

    def __init__(self, key_id: str, secret: str, token: str | None):
        self._credential: S3Credential = {
            "access_key_id": key_id,
            "secret_access_key": secret,
            "token": token,
            "expires_at": None,
        }

    def __call__(self) -> S3Credential:
        return self._credential

    def __repr__(self) -> str:  # (never the secret)
        return "_Keys(...)"


class S3Storage(Storage):
    local = False

    def __init__(self, location: str):
        if not _HAVE_OBSTORE:
            raise missing_extra(f"the store '{location}'", "s3", "obstore")
        self.location = location.rstrip("/")
        rest = self.location.split("://", 1)[1]
        self.bucket, _, prefix = rest.partition("/")
        self.prefix = prefix.strip("/")
        found = _resolve(self.location)
        self.endpoint = endpoint = found["endpoint"]
        self.credentials_from = found["source"]
        self.with_token = bool(found["credentials"] and found["credentials"][2])  # (temporary keys: they expire)
        config: S3Config = {"region": found["region"]}
        if endpoint:
            config["endpoint"] = endpoint
        provider: S3CredentialProvider | None = None
        if found["credentials"] is not None and found["source"] != "AWS_ACCESS_KEY_ID":
            provider = _Keys(*found["credentials"])
        client: ClientConfig = {"allow_http": True} if endpoint and endpoint.startswith("http://") else {}
        retry: RetryConfig = {"max_retries": 2, "retry_timeout": __import__("datetime").timedelta(seconds=10)}
        self._store = S3Store(
            self.bucket,
            prefix=self.prefix or None,
            config=config or None,
            client_options=client or None,
            retry_config=retry,
            credential_provider=provider,
        )

    # ------------------------------------------------------------------ errors
    def _failed(self, exc: Exception, what: str) -> Exception:
        """One line for a request the object store refused or could not answer."""
        text = str(exc)
        where = f"store '{self.location}'" + (f" at {self.endpoint}" if self.endpoint else "")
        if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
            return StoreError(
                f"{where}: the bucket '{self.bucket}' does not exist; create it first "
                f"(e.g. `aws s3 mb s3://{self.bucket}`), or give another s3://BUCKET/PATH"
            )
        if isinstance(exc, (oe.PermissionDeniedError, oe.UnauthenticatedError)) or any(
            code in text for code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403 Forbidden")
        ):
            source = f" (from {self.credentials_from})" if self.credentials_from else " (none found)"
            token = ", with a session token (temporary keys expire: get new ones)" if self.with_token else ""
            return StoreError(
                f"{where}: the object store refused the credentials{source}{token} for {what} (access "
                "denied); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION) to a key "
                "allowed to read and write that bucket"
            )
        reason = _short(text)
        return StorageUnreachable(
            f"{where}: the object store did not complete {what} ({reason}); nothing "
            "finished is lost: run the same command again once it answers"
        )

    def _call(self, what: str, fn, *args, **kwargs):
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
        if isinstance(exc, oe.BaseError) or (isinstance(exc, FileNotFoundError) and "NoSuchBucket" in str(exc)):
            return self._failed(exc, what)
        return None

    # ------------------------------------------------------------------ objects
    def read_bytes(self, key):
        found = self.read_versioned(key)
        return None if found is None else found[0]

    def read_versioned(self, key):
        try:
            got = self._call(f"reading {key}", obstore.get, self._store, key)
            return bytes(self._call(f"reading {key}", got.bytes)), got.meta["e_tag"]
        except (FileNotFoundError, oe.NotFoundError):
            return None

    def write_bytes(self, key, data):
        self._call(f"writing {key}", obstore.put, self._store, key, data)

    def create(self, key, data):
        try:
            return self._call(f"creating {key}", obstore.put, self._store, key, data, mode="create")["e_tag"]
        except (oe.AlreadyExistsError, oe.PreconditionError):
            raise Conflict(key) from None

    def replace(self, key, data, version):
        try:
            return self._call(f"replacing {key}", obstore.put, self._store, key, data, mode={"e_tag": version})["e_tag"]
        except (oe.PreconditionError, oe.NotFoundError, FileNotFoundError, oe.AlreadyExistsError):
            raise Conflict(key) from None

    def copy(self, src, dst):
        self._call(f"copying {src}", obstore.copy, self._store, src, dst, overwrite=True)

    def commit(self, key, data):
        try:
            self.create(key, data)
        except Conflict:
            raise StoreError(
                f"store '{self.location}': {key} exists already, written by another command; "
                "nothing was changed: run the same command again"
            ) from None

    take_over = replace  # (If-Match on the ETag read: of two takers, the server lets one write)

    def delete(self, key):
        try:
            self._call(f"deleting {key}", obstore.delete, self._store, key)
        except (FileNotFoundError, oe.NotFoundError):
            pass

    def delete_prefix(self, prefix):
        keys = self.list(prefix)
        for i in range(0, len(keys), 500):
            self._call(f"deleting {prefix}", obstore.delete, self._store, keys[i : i + 500])

    def exists(self, key):
        return self.identity(key) is not None

    def identity(self, key):
        try:
            return (self._call(f"reading {key}", obstore.head, self._store, key)["e_tag"],)
        except (FileNotFoundError, oe.NotFoundError):
            return None

    def _listed(self, prefix: str, *, first: bool = False) -> list[str]:
        """The keys under ``prefix`` ('' the whole store); only the first one with ``first``."""

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
        async def one(key):
            try:
                return ((await obstore.head_async(self._store, key))["e_tag"],)
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
        found = self._call("listing the store", obstore.list_with_delimiter, self._store, None)
        names = {str(m["path"]).rsplit("/", 1)[-1] for m in found["objects"]}
        # (some servers, SeaweedFS among them, list an emptied "directory": kept only with objects in it)
        names |= {
            name for name in (p.rstrip("/").rsplit("/", 1)[-1] for p in found["common_prefixes"]) if self.is_dir(name)
        }
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
            rest = key[len(control) + 1 :]
            if not rest.split("/", 1)[0].startswith(names):
                return False
        return True

    def clear(self, keep):
        keys = [k for k in self.list("") if not k.startswith(keep)]
        for i in range(0, len(keys), 500):
            self._call("removing the old store", obstore.delete, self._store, keys[i : i + 500])

    def zarr_store(self, *, read_only=False):
        from zarr.storage import ObjectStore  # (deferred: zarr loads when a store's arrays are opened)

        return ObjectStore(self._store, read_only=read_only)


def _short(text: str) -> str:
    line = " ".join(text.split("Debug source:")[0].split())
    return line if len(line) <= 160 else line[:157] + "..."
