"""One way to make an HTTP session that rides out short outages.

urllib3's Retry does the waiting: connection refused, 5xx, and 503 with
Retry-After (honoured up to a ceiling). Studio's and the catalog's clients
both build their sessions here.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util.retry import Retry

# Statuses worth asking again: a proxy between us and the server (502, 504),
# the server saying it will be back (503, with Retry-After), or a crash on one
# request (500) that the next one may not hit.
RETRY_STATUSES = frozenset({500, 502, 503, 504})


def retrying_session(
    *,
    retries: int,
    backoff_seconds: float,
    max_retry_after: float,
    retry_reads: bool,
    pool_size: int = 10,
    token: str | None = None,
) -> requests.Session:
    """A session whose every request (any method: callers only send calls
    that are safe to repeat) is retried `retries` times with exponential
    backoff. After the last try the final answer is returned, not raised, so
    the caller can report it. `retry_reads` also repeats a request whose
    answer timed out."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries if retry_reads else 0,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_seconds,
        backoff_max=max(backoff_seconds, max_retry_after),
        backoff_jitter=backoff_seconds / 2,
        respect_retry_after_header=True,
        retry_after_max=max(1, int(max_retry_after)),
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def unreachable(server: str, exc: requests.RequestException, tries: int) -> str:
    """A one-line reason why `server` ("the catalog", "Studio") could not be
    reached, without urllib3's "Max retries exceeded with url" wording and
    without the URL (job errors are stored, and Studio refuses URLs)."""
    chain: list[BaseException] = [exc]
    while chain[-1].__context__ is not None or getattr(chain[-1], "reason", None) is not None:
        reason = getattr(chain[-1], "reason", None)
        chain.append(reason if isinstance(reason, BaseException) else chain[-1].__context__)
    cause = chain[-1]
    timed_out = "Timeout" in type(cause).__name__ or isinstance(exc, requests.Timeout)
    # Only a connection that could not be made is tried again by both
    # clients' sessions; a connection dropped or a read timed out may have
    # been one try, so no count is claimed for those.
    retried = any(isinstance(c, ConnectTimeoutError) for c in chain)  # NewConnectionError too
    after = f" (after {tries} tries)" if retried and tries > 1 else ""
    if timed_out:
        return f"{server} did not answer in time{after}"
    detail = str(cause).rsplit("]", 1)[-1].strip() or type(cause).__name__
    return f"cannot connect to {server}: {detail}{after}"
