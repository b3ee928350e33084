"""Benchmark of `acv-xl serveur` (not a test): Valider server-side, and UDF calls under load.

    .venv/bin/python benchmarks/bench_serveur.py [--actions 500] [--lignes 10] [--repeat 7]
                                                  [--clients 8] [--requetes 400]

1. The workbook of `bench_udfs.py` (500 actions, 5 000 financing lines, 50 unbalanced plans),
   as the JSON the Office.js add-in sends.
2. In this process, what the server does for one « Valider » click (median of --repeat):
   the request's JSON read, the workbook built, the script run, its answer written
   (`udfs.server_calls.call_script`, the function the server runs in its pool); target ≤ 100 ms.
3. A real server (`acv-xl serveur` with an access token, on a free port of 127.0.0.1):
   - « Valider » over HTTP, sequential (median latency, HTTP and JSON included);
   - `ACV_TOTAL_FINANCEUR` by --clients concurrent clients, --requetes calls in all, on the
     example's plan and on the 5 000-line plan: requests per second and the slowest answer.
   Every answer is checked. The server is stopped at the end (bounded waits everywhere).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
os.environ["XLWINGS_ON_SERVER"] = "true"  # as in the server: xlwings' server decorators

import httpx  # noqa: E402

from acv_xl.contract import layout  # noqa: E402
from acv_xl.outputs.template import build_workbook  # noqa: E402
from bench_udfs import big_convention  # noqa: E402
from udfs.server import configure_environment  # noqa: E402

configure_environment()

from udfs import scripts  # noqa: E402
from xlwings_payload import payload_from_xlsx, table_values  # noqa: E402

TOKEN = "jeton-de-banc-d-essai-" + "b" * 24


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def in_process_valider(body: bytes, repeat: int) -> float:
    from xlwings_server.models import User

    from udfs.server_calls import call_script
    from udfs.server_config import ServerConfig

    config, user = ServerConfig(), User(id="n/a", name="Anonymous")
    answer = call_script("valider", body, user, config, {})
    assert any(a["func"] == "setRangeColor" for a in answer["actions"]), "Valider n'a rien coloré"
    return median_ms(lambda: call_script("valider", body, user, config, {}), repeat)


class Server:
    """`acv-xl serveur` in a subprocess, as long as the `with` lasts."""

    def __init__(self, log: Path):
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XLWINGS_", "ACV_XL_"))}
        env.update(XLWINGS_LICENSE_KEY="noncommercial", ACV_XL_JETON=TOKEN, PYTHONPATH=str(ROOT))
        self.out = open(log, "w")
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "acv_xl", "serveur", "--port", str(self.port)],
                                     cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"le serveur s'est arrêté : {self.log.read_text()}")
            try:
                if httpx.get(self.base + "/manifest", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise SystemExit("le serveur n'a pas répondu en 120 s")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self.out.close()


def udf_load(base: str, plan: list, expected: float, clients: int, total: int) -> tuple[float, float]:
    """(requests per second, slowest answer in ms) for `total` calls by `clients` threads."""
    body = json.dumps({"func_name": "ACV_TOTAL_FINANCEUR", "args": [plan, [["ETAT"]]], "version": "0",
                       "client": "Office.js", "runtime": "1.4"}).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    local = threading.local()
    slowest = []

    def one(_):
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, timeout=60, headers=headers)
        t = time.perf_counter()
        r = client.post("/xlwings/custom-functions-call", content=body)
        slowest.append(time.perf_counter() - t)
        got = r.json()["result"][0][0]
        assert r.status_code == 200 and abs(got - expected) < 0.01, (r.status_code, got, expected)

    one(None)  # the first call parses the plan; the load measures what Excel repeats
    slowest.clear()
    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(total), timeout=600))
    return total / (time.perf_counter() - t), max(slowest) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=500)
    ap.add_argument("--lignes", type=int, default=10, help="lignes de financement par action")
    ap.add_argument("--fautes", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--clients", type=int, default=8, help="clients simultanés")
    ap.add_argument("--requetes", type=int, default=400, help="appels de fonction en tout, par plan")
    args = ap.parse_args()

    from acv_xl.outputs.report import to_json
    from acv_xl.checks.validate import validate_file

    with tempfile.TemporaryDirectory() as tmp:
        name, conv = big_convention(args.actions, args.lignes, args.fautes)
        path = Path(tmp) / f"grand-{name}"
        build_workbook(path, conv)
        body = json.dumps(payload_from_xlsx(path, include=scripts.INCLUDE)).encode()
        big_plan = table_values(path, layout.T_FINANCEMENTS.name)
        big_etat = to_json(validate_file(path))["totaux"]["par_financeur"]["ETAT"]
        example = ROOT / "workbooks" / "exemples" / name
        small_plan = table_values(example, layout.T_FINANCEMENTS.name)
        small_etat = to_json(validate_file(example))["totaux"]["par_financeur"]["ETAT"]
        print(f"Classeur : {args.actions} actions, {len(big_plan) - 1} lignes de financement "
              f"(à partir de {name}), requête Valider de {len(body) / 1e6:.1f} Mo")

        valider_ms = in_process_valider(body, args.repeat)
        with Server(Path(tmp) / "serveur.log") as server:
            client = httpx.Client(base_url=server.base, timeout=60,
                                  headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            http_ms = median_ms(lambda: client.post("/xlwings/custom-scripts-call/valider", content=body)
                                .raise_for_status(), args.repeat)
            client.close()
            small_rps, small_max = udf_load(server.base, small_plan, small_etat, args.clients, args.requetes)
            big_rps, big_max = udf_load(server.base, big_plan, big_etat, args.clients, args.requetes)

    print()
    print(f"{'mesure':64} {'résultat':>14} {'cible':>10}")
    flag = "OK" if valider_ms <= 100 else "au-dessus de la cible"
    print(f"{'Valider côté serveur (JSON lu, classeur, règles, réponse)':64} {valider_ms:11.1f} ms "
          f"{'100 ms':>10}  {flag}")
    print(f"{'Valider par HTTP (même requête, réseau local compris)':64} {http_ms:11.1f} ms")
    for label, rps, worst, rows in (("plan de l'exemple", small_rps, small_max, len(small_plan) - 1),
                                    ("plan de 5 000 lignes", big_rps, big_max, len(big_plan) - 1)):
        text = f"ACV_TOTAL_FINANCEUR, {args.clients} clients, {label} ({rows} l.)"
        print(f"{text:64} {rps:9.0f} req/s   (réponse la plus lente : {worst:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
