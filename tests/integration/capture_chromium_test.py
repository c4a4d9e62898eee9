#!/usr/bin/env python3
"""Captures end to end with a browser (issue 5 §6): headless Chromium loads a page with a
script, a stylesheet and an image through hoplens (explicit proxy, hoplens's CA trusted in a
fresh NSS db) with --har. The browser saw hoplens's CA; the HAR validates and holds one entry
per exchange nginx served; then, with hoplens stopped, Chromium replays the page from the
HAR alone (routeFromHAR, notFound: abort) and renders it: script ran, image decoded, style
applied. The page also talks to a WebSocket echo through hoplens (Chromium negotiates
permessage-deflate): the HAR's entry for it lists the messages both ways as Chrome's own
export does (`_webSocketMessages`). Screenshots land in $HOPLENS_ARTIFACTS/capture_chromium."""
import base64
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_support as cs  # noqa: E402
from lib import env, hoplens, pki, procs  # noqa: E402

PAGE_FILES = ("/", "/style.css", "/app.js", "/logo.png")


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def subject_cn(pem):
    r = procs.run(["openssl", "x509", "-in", pem, "-noout", "-subject", "-nameopt", "RFC2253"])
    subject = r.stdout.decode().strip().removeprefix("subject=")
    return dict(p.split("=", 1) for p in subject.split(","))["CN"]


def browser_home(directory, ca_pem):
    """A HOME whose NSS db trusts ca_pem (Chromium ignores SSL_CERT_FILE and friends)."""
    db = os.path.join(directory, ".pki", "nssdb")
    os.makedirs(db)
    for args in (["-N", "--empty-password"], ["-A", "-t", "C,,", "-n", "hoplens-test-ca", "-i", ca_pem]):
        r = procs.run(["certutil", "-d", f"sql:{db}", *args])
        check(r.returncode == 0, f"certutil {args}: {r.stderr.decode(errors='replace')}")
    return directory


def chromium(work, home, *args):
    """Runs capture_page.js; returns its JSON result."""
    profile = os.path.join(work, f"profile-{args[0]}")
    run_env = dict(os.environ, HOME=home)
    r = procs.run(["node", os.path.join(cs.js_dir(), "capture_page.js"), args[0], profile, *args[1:]],
                  timeout=120.0, env=run_env)
    out = r.stdout.decode(errors="replace").strip().splitlines()
    try:
        result = json.loads(out[-1])
    except (IndexError, ValueError):
        fail(f"capture_page.js {args[0]} printed no result (rc {r.returncode}):\n"
             f"{r.stdout.decode(errors='replace')}\n{r.stderr.decode(errors='replace')[-3000:]}")
    check(result.get("ok"), f"capture_page.js {args[0]}: {result.get('error')}")
    return result


def check_rendered(result, what):
    check(result["title"] == cs.PAGE_TITLE, f"{what}: title {result['title']!r}")
    check(result["mark"] == cs.SCRIPT_MARK, f"{what}: the script did not run: {result['mark']!r}")
    check(result["imageWidth"] == cs.IMAGE_SIZE, f"{what}: the image did not decode: {result}")
    check(result["headingColor"] == "rgb(12, 34, 56)", f"{what}: the stylesheet was not applied: {result}")
    check(result["failed"] == [], f"{what}: requests failed: {result['failed']}")


def main():
    env.require_tools("nginx", "chromium", "certutil", "openssl", "node")
    cs.require_node_modules("playwright-core", "har-validator")
    artifacts = env.artifacts_dir("capture_chromium")
    work = env.temp_dir("capchrome")
    site = proxy = None
    try:
        ca = pki.make_ca(work, "site")
        site = cs.Site(ca)
        har = os.path.join(work, "page.har")
        pcap = os.path.join(work, "page.pcapng")
        proxy = hoplens.Hoplens({"explicit": "explicit"}, name="capchrome",
                                args=["--upstream-ca", ca[0], *site.map_arg(), "--har", har,
                                      "--pcapng", pcap])
        home = browser_home(os.path.join(work, "home"), proxy.ca_pem)
        url = site.url("/")

        live = chromium(work, home, "record", url, proxy.url_explicit_proxy("explicit"),
                        os.path.join(artifacts, "live.png"), site.url("/ws", "wss"))
        check(live["status"] == 200, f"page status {live['status']}")
        check(live["issuer"] == subject_cn(proxy.ca_pem),
              f"Chromium saw issuer {live['issuer']!r}, not hoplens's CA {subject_cn(proxy.ca_pem)!r}")
        check_rendered(live, "through hoplens")
        ws = live["websocket"]
        binary_echo = b"echo:\x00\x01\x02\xff"
        check(ws["echoes"] == ["echo:hello from chromium", ",".join(str(b) for b in binary_echo)],
              f"websocket echoes through hoplens: {ws}")
        check(ws["code"] == 1000 and "permessage-deflate" in ws["extensions"], f"websocket: {ws}")

        status, killed = proxy.stop()
        check((status, killed) == (0, False), f"hoplens exit {status} killed={killed}: {proxy.proc.tail()}")
        shutil.copy(har, os.path.join(artifacts, "page.har"))
        ok, out = cs.har_validate(har)
        check(ok, f"HAR invalid: {out}")

        entries = cs.har_entries(har)
        served = [l for l in cs.read_file(os.path.join(site.dir, "access.log")).decode().splitlines() if l]
        check(len(entries) == len(served),
              f"{len(entries)} HAR entries for {len(served)} requests nginx served:\n" + "\n".join(served))
        urls = [e["request"]["url"] for e in entries]
        for p in PAGE_FILES:
            hits = [e for e in entries if e["request"]["url"] == site.url(p)]
            check(len(hits) == 1, f"{p}: {len(hits)} entries in {urls}")
            check(hits[0]["response"]["status"] == 200, f"{p}: status {hits[0]['response']['status']}")
        types = {e["request"]["url"]: e["_resourceType"] for e in entries}
        check([types[site.url(p)] for p in PAGE_FILES] == ["document", "stylesheet", "script", "image"],
              f"_resourceType: {types}")

        sockets = [e for e in entries if e["request"]["url"] == site.url("/ws")]
        check(len(sockets) == 1, f"/ws: {len(sockets)} entries in {urls}")
        check(sockets[0]["response"]["status"] == 101, f"/ws status {sockets[0]['response']['status']}")
        kind = sockets[0].get("_resourceType")
        check(kind == "websocket", f"/ws _resourceType {kind}")
        messages = [(m["type"], m["opcode"], m["data"]) for m in sockets[0].get("_webSocketMessages", [])]
        check(messages == [("send", 1, "hello from chromium"), ("receive", 1, "echo:hello from chromium"),
                           ("send", 2, base64.b64encode(b"\x00\x01\x02\xff").decode()),
                           ("receive", 2, base64.b64encode(binary_echo).decode())],
              f"/ws _webSocketMessages: {messages}")

        # Wireshark follows the upgrade: the frames after the 101 decode as WebSocket.
        opcodes = [f[0] for f in cs.tshark_fields(pcap, "websocket", "websocket.opcode")]
        check(opcodes.count("1") == 2 and opcodes.count("2") == 2 and "8" in opcodes,
              f"tshark's WebSocket opcodes in the pcapng: {opcodes}")
        flagged = cs.tshark_lines(pcap, "tcp.analysis.flags")
        check(flagged == [], f"tcp.analysis.flags: {flagged[:5]}")

        # Offline: hoplens is stopped (its port refuses), every response comes from the HAR.
        replay = chromium(work, home, "replay", url, har, os.path.join(artifacts, "replayed.png"),
                          proxy.url_explicit_proxy("explicit"))
        check_rendered(replay, "replayed from the HAR")
        print(f"PASS: {len(entries)} exchanges captured; page replayed offline; "
              f"screenshots in {artifacts}", flush=True)
    finally:
        if proxy is not None:
            proxy.cleanup()
        if site is not None:
            site.stop()
        env.remove_dir(work)


if __name__ == "__main__":
    main()
