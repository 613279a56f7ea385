"""A stand-in for the Hugging Face Hub's HTTP API (HF_ENDPOINT points huggingface_hub at it), so `deploykit pull`
runs the real huggingface_hub client and gets the hub's real error classes, never the network. It follows what
huggingface_hub 2.4 reads (hf_api.model_info, file_download.get_hf_file_metadata, utils/_http.hf_raise_for_status):
model info with siblings (size, lfs.sha256), resolve URLs with X-Repo-Commit / ETag / Content-Length and Range
support, and errors carried by X-Error-Code (GatedRepo, RepoNotFound) with X-Error-Message."""

from __future__ import annotations

import hashlib
import re

from standin_http import JSONHandler, ThreadedServer

COMMIT = "1" * 40


class HubStandIn:
    def __init__(self, repos: dict[str, dict[str, bytes]], *, gated: set[str] = frozenset(),
                 cut_once: set[str] = frozenset(), listed_sizes: dict[str, int] | None = None) -> None:
        self.repos, self.gated = repos, set(gated)
        self.listed_sizes = listed_sizes or {}  # sizes the listing claims instead of the real ones (disk tests)
        self.cut_once = set(cut_once)  # files whose first download is cut off half-way (to test resuming)
        self.ranges: list[str] = []
        self.downloads: list[str] = []
        self.http = ThreadedServer(self._handler())

    @property
    def url(self) -> str:
        return f"{self.http.root}"

    def __enter__(self) -> HubStandIn:
        self.http.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.http.__exit__(*exc)

    def _handler(self):
        hub = self

        class Handler(JSONHandler):
            protocol_version = "HTTP/1.1"

            def _error(self, code: int, error_code: str, message: str) -> None:
                self._json(code, {"error": message}, {"X-Error-Code": error_code, "X-Error-Message": message})

            def _repo(self, repo: str) -> dict[str, bytes] | None:
                if repo not in hub.repos:
                    self._error(404, "RepoNotFound", "Repository not found")
                    return None
                if repo in hub.gated and "authorization" not in {k.lower() for k in self.headers}:
                    self._error(401, "GatedRepo", f"Access to model {repo} is restricted. You must have access "
                                                  "to it and be authenticated to access it. Please log in.")
                    return None
                return hub.repos[repo]

            def do_GET(self) -> None:  # noqa: N802
                self._serve(body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(body=False)

            def _serve(self, body: bool) -> None:
                path = self.path.split("?")[0]
                m = re.match(r"^/api/models/([^/]+/[^/]+)/revision/[^/]+$", path)
                if m:
                    files = self._repo(m.group(1))
                    if files is None:
                        return
                    siblings = [{"rfilename": n, "size": hub.listed_sizes.get(n, len(d)),
                                 "blobId": hashlib.sha1(d).hexdigest(),
                                 **({"lfs": {"sha256": hashlib.sha256(d).hexdigest(),
                                             "size": hub.listed_sizes.get(n, len(d)),
                                             "pointerSize": 134}} if n.endswith((".safetensors", ".gguf")) else {})}
                                for n, d in files.items()]
                    self._json(200, {"id": m.group(1), "modelId": m.group(1), "sha": COMMIT, "private": False,
                                     "siblings": siblings}, send_body=body)
                    return
                m = re.match(r"^/api/models/([^/]+/[^/]+)/tree/[^/]+$", path)
                if m:  # the repo's file tree (HfApi.list_repo_tree), what snapshot_download filters
                    files = self._repo(m.group(1))
                    if files is None:
                        return
                    tree = [{"type": "file", "path": n, "size": hub.listed_sizes.get(n, len(d)),
                             "oid": hashlib.sha1(d).hexdigest(),
                             **({"lfs": {"oid": hashlib.sha256(d).hexdigest(), "size": len(d),
                                         "pointerSize": 134}} if n.endswith((".safetensors", ".gguf")) else {})}
                            for n, d in files.items()]
                    self._json(200, tree, send_body=body)
                    return
                m = re.match(r"^/([^/]+/[^/]+)/resolve/[^/]+/(.+)$", path)
                if not m:
                    self._error(404, "EntryNotFound", "not found")
                    return
                files = self._repo(m.group(1))
                if files is None:
                    return
                name = m.group(2)
                if name not in files:
                    self._error(404, "EntryNotFound", f"{name} does not exist")
                    return
                data = files[name]
                etag = hashlib.sha256(data).hexdigest() if name.endswith((".safetensors", ".gguf")) else \
                    hashlib.sha1(data).hexdigest()
                start = 0
                rng = self.headers.get("Range")
                if rng and body:
                    hub.ranges.append(f"{name}:{rng}")
                    start = int(re.match(r"bytes=(\d+)-", rng).group(1))
                part = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("Content-Length", str(len(part)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not body:
                    return
                hub.downloads.append(name)
                if name in hub.cut_once:
                    hub.cut_once.discard(name)
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(part)

        return Handler
