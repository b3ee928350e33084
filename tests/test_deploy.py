"""deploy/: the service unit, the container file and the nginx example stay in step with the
command line and the server's defaults (docker and systemd do not run here: what can be checked
without them is checked)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from acv_xl.cli import build_parser
from udfs import server_alert, server_config

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def _serveur_args(argv: list[str]):
    assert Path(argv[0]).name == "acv-xl" and argv[1] == "serveur", argv
    args = build_parser().parse_args(argv[1:])
    assert args.func.__name__ == "cmd_serveur"
    return args


def test_the_service_unit_runs_acv_xl_serveur_on_loopback_with_a_token_file():
    text = (DEPLOY / "acv-xl-serveur.service").read_text(encoding="utf-8")
    assert "[Unit]" in text and "[Service]" in text and "[Install]" in text
    exec_start = re.search(r"^ExecStart=(.*?)(?<!\\)$", text, re.M | re.S).group(1)
    argv = shlex.split(exec_start.replace("\\\n", " "))
    args = _serveur_args(argv)
    assert args.hote == "127.0.0.1" and args.jeton_fichier and args.url_publique.startswith("https://")
    assert "Environment=XLWINGS_LICENSE_KEY=noncommercial" in text
    assert "ACV_XL_JETON=" not in text  # the token never sits in the unit (readable by all)


def test_the_container_file_copies_what_exists_and_runs_the_server_safely():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for src in re.findall(r"^COPY (.+?) \S+$", text, re.M):
        for name in src.split():
            assert (ROOT / name).exists(), name
    cmd = json.loads(re.search(r"^CMD (\[.*?\])$", text, re.M | re.S).group(1).replace("\\\n", ""))
    args = _serveur_args(cmd)
    # off loopback in the container: a token and HTTPS, as the server demands
    assert args.hote == "0.0.0.0" and args.jeton_fichier and args.certificat and args.cle
    assert "USER acv-xl" in text and "'.[excel]'" in text
    # the département's time (the validation date, the rules' deadlines), not the container's UTC
    assert re.search(r"^\s*TZ=Europe/Paris\b", text, re.M) and "install -y --no-install-recommends tzdata" in text


def test_the_container_runs_as_the_hosts_service_account_which_alone_reads_its_files():
    """The recipe makes /etc/acv-xl readable by the host's acv-xl group only (750, files 640); the image's own
    acv-xl account has other numbers, and the container, run as the Dockerfile and the docs said, could
    read neither the tokens nor the key: « fichier de jetons illisible », the server restarted for ever."""
    user = '--user "$(id -u acv-xl):$(id -g acv-xl)"'
    run = re.search(r"^#\s+docker run .*?acv-xl-serveur$", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"),
                    re.M | re.S).group(0)
    assert user in run and "-v /etc/acv-xl:/etc/acv-xl:ro" in run
    doc = " ".join((ROOT / "docs" / "serveur.md").read_text(encoding="utf-8").split())
    assert 'Lancez le conteneur sous le compte de service de l\'hôte (étape 1 ci-dessus) : `--user "$(id -u ' \
           'acv-xl):$(id -g acv-xl)"`' in doc
    assert "sudo install -d -m 750 -o root -g acv-xl /etc/acv-xl" in doc  # the modes it speaks of


def test_nginx_example_matches_the_server_limits():
    text = (DEPLOY / "nginx-acv-xl.conf").read_text(encoding="utf-8")
    size = int(re.search(r"client_max_body_size (\d+)m;", text).group(1))
    assert size == server_config.DEFAULT_MAX_BODY_MB
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", text).group(1))
    assert read_timeout > server_config.DEFAULT_TIMEOUT_S  # the server answers « délai dépassé » first
    assert "proxy_set_header Host $host;" in text  # the origin check compares with Host
    # a body over client_body_buffer_size was written to a temporary file of nginx before being passed on, and
    # before any token was checked: a commune's data on the front end's disk, 20 Mo a request for anyone to
    # make it write (tried with nginx 1.22: « a client request body is buffered to a temporary file »)
    assert re.search(r"^\s*proxy_request_buffering off;", text, re.M)
    logged = re.search(r"^log_format .*$", text, re.M).group(0)
    assert "$uri" in logged and "$request" not in logged.replace("$request_", "") and "$request_uri" not in logged
    assert "$args" not in logged and "$query_string" not in logged and "access_log off" not in text  # no query


def test_the_docs_say_which_log_of_nginx_holds_the_query_string():
    """docs/serveur.md said nginx's log held no query string (the box's messages travel in it), true of the
    access log's format only: nginx's error log, whose format cannot be set, quotes the whole request line
    whenever it cannot pass a request on (tried with nginx 1.22: « request: "GET /xlwings/alert?prompt=… " »,
    the server stopped), and the example left it in nginx's shared log. It has a file of its own, named by
    the docs with what it holds."""
    text = (DEPLOY / "nginx-acv-xl.conf").read_text(encoding="utf-8")
    logged = re.search(r"^\s*error_log (\S+?)(?: \w+)?;", text, re.M)
    assert logged and logged.group(1) == "/var/log/nginx/acv-xl.error.log"
    doc = " ".join((ROOT / "docs" / "serveur.md").read_text(encoding="utf-8").split())
    assert (f"Son journal d'erreurs (`{logged.group(1)}`), dont nginx ne permet pas de choisir le format, cite en "
            "revanche la ligne de requête complète, chaîne de requête comprise") in doc


def test_the_docs_say_the_front_end_passes_the_body_on_as_it_arrives():
    """The example streams a request's body to the server (`proxy_request_buffering off`), so the server's
    --delai-reception times a commune's upload: docs/serveur.md still said nginx « reçoit la requête entière
    avant de la transmettre », the reason an IT person would leave that delay alone behind nginx."""
    text = (DEPLOY / "nginx-acv-xl.conf").read_text(encoding="utf-8")
    doc = " ".join((ROOT / "docs" / "serveur.md").read_text(encoding="utf-8").split())
    assert re.search(r"^\s*proxy_request_buffering off;", text, re.M)
    assert "requête entière" not in doc
    delays = re.search(r"Le délai de réception et la taille des en-têtes protègent(.*?)\*\*Connexions", doc).group(1)
    assert "transmet le contenu à mesure qu'il arrive" in delays and "--delai-reception" in delays


def test_nginx_never_tells_its_version():
    """`Server: nginx/1.22.1` on every answer, and « nginx/1.22.1 » at the foot of its own pages (the
    redirection of port 80, a TRACE refused): the exact version, for anyone on the internet to look
    up its known flaws. Each server block of the example says none."""
    text = (DEPLOY / "nginx-acv-xl.conf").read_text(encoding="utf-8")
    blocks = re.split(r"^server \{", text, flags=re.M)[1:]
    assert len(blocks) == 1  # HTTP and HTTPS in one block (test_nginx_sends_http_to_https_in_french)
    for block in blocks:
        assert re.search(r"^\s*server_tokens off;", block, re.M), block[:200]


# every answer nginx writes itself before or instead of the server's: 494 is its « Request Header Or
# Cookie Too Large » (sent as 400); 404 only for its own pages' addresses, asked for directly
NGINX_OWN = {"400", "404", "405", "413", "414", "429", "494", "500", "501", "502", "503", "504", "505"}
# those the add-in never meets: it sends GET and POST, in HTTP/1.1 or 2, to the server's addresses
NEVER_TO_THE_ADD_IN = {"404", "405", "501", "505"}
# HTTP (418 relays port 80's requests) and HTTP sent to the HTTPS port: sent on to HTTPS
TO_HTTPS = {"418", "497"}


def _error_pages(text: str) -> dict[str, tuple[str, str]]:
    """Each code of an `error_page` (but those sent to HTTPS) → (the status its page returns, its message)."""
    pages = {}
    for codes, target in re.findall(r"^\s*error_page ([\d ]+?) (?:= )?(\S+);", text, re.M):
        if set(codes.split()) == TO_HTTPS:
            continue
        where = re.escape(target) if target.startswith("@") else "= " + re.escape(target)
        body = re.search(r"location %s \{(.*?)\}" % where, text, re.S).group(1)
        assert 'default_type "text/plain; charset=utf-8";' in body
        assert target.startswith("@") or "internal;" in body  # an address of its own: not served to clients
        status, message = re.search(r'return (\d+) "(.*?)\\n";', body).groups()
        for code in codes.split():
            pages[code] = (status, message)
    return pages


def test_nginx_example_is_understood_by_the_distributions_nginx():
    """The recipe (docs/serveur.md) copies the example on a Debian, Ubuntu or RHEL server and runs
    `nginx -t`: with `http2 on;` (a directive of nginx 1.25.1) it failed on Debian 12's nginx 1.22
    (« unknown directive "http2" »), as on Ubuntu 22.04's 1.18 and 24.04's 1.24. HTTP/2 is asked for
    on `listen`, which every version takes (1.25.1 and later with a warning)."""
    text = (DEPLOY / "nginx-acv-xl.conf").read_text(encoding="utf-8")
    assert not re.search(r"^\s*http2\s", text, re.M)
    assert re.findall(r"^\s*listen (\S+) ssl http2;", text, re.M) == ["443", "[::]:443"]


def test_nginx_answers_its_own_refusals_in_french_text():
    """nginx's own 413 (a body over client_max_body_size, checked before the server's) and 502/504
    (the server stopped, restarting for an update) reached the cells and message boxes as its
    English HTML page, as did its 400 (a request it cannot read), 494 (headers or cookies over its
    buffers), 414 (an address over them: a long message in the box's address) and 500 (its own
    failure, a temporary file it cannot write). Tried with nginx 1.22 (HTTP/1.1 and HTTP/2): a
    named location is needed, an error page given by its address stays nginx's own in HTTP/2 — but
    414 comes before the address is read, and a named location turns it into nginx's English 500
    (« empty URI in redirect to named location »): its page has an address. The server's own
    answers (its sealed 400, « Serveur occupé ») pass through, nginx replacing only what it makes."""
    text = (DEPLOY / "nginx-acv-xl.conf").read_text(encoding="utf-8")
    assert "proxy_intercept_errors" not in text
    pages = _error_pages(text)
    assert set(pages) == NGINX_OWN, pages
    # refused before their address is read: nginx's English 500 from a named location (« empty URI in redirect
    # to named location », a CONNECT or an unreadable request line for 400)
    for code in ("400", "405", "414", "501", "505"):
        assert re.search(rf"^\s*error_page [\d ]*\b{code}\b[\d ]* /", text, re.M), code
    for code, (status, message) in pages.items():
        expected = {"502": "503", "504": "503", "494": "400", "501": "405", "505": "405"}.get(code, code)
        assert status == expected, (code, status)  # 503: Excel retries a function
        assert not re.search(r"\b(the|error|server|request|too|large|bad|gateway|uri|header|cookie|not|found)\b",
                             message, re.I), message
        if code in NEVER_TO_THE_ADD_IN:
            continue
        # and the add-in's box shows it (nginx cannot seal it): it showed its fixed « n'a pas pu terminer »
        params = dict(zip(server_alert.PARAMS, (message + "\n", *server_alert.FAILURE)))
        assert server_alert.checked(params)["prompt"] == message
    size = re.search(r"client_max_body_size (\d+)m;", text).group(1)
    assert f"au plus {size} Mo par requête" in text


def test_nginx_sends_http_to_https_in_french():
    """Port 80 had a block of its own, answered by nginx's English pages: « 301 Moved Permanently » for a
    redirection, « 400 Bad Request » for a request it could not read; and a plain-HTTP request to the HTTPS port
    got « 400 The plain HTTP request was sent to HTTPS port » (code 497, which error_page 400 does not take).
    HTTP is now in the HTTPS block, so every page nginx writes is one of its French ones, and both are sent on to
    the same address in HTTPS with a French text (`return 301` writes nginx's page whatever error_page says).
    Tried with nginx 1.22: HTTP/1.1 on both ports, HTTP/2."""
    text = (DEPLOY / "nginx-acv-xl.conf").read_text(encoding="utf-8")
    assert re.findall(r"^\s*listen (\S+?)(?: ssl http2)?;", text, re.M) == ["443", "[::]:443", "80", "[::]:80"]
    assert not re.search(r"^\s*return 30\d", text, re.M)
    root = re.search(r"location / \{(.*?)\n    \}", text, re.S).group(1)
    assert re.match(r"\s*if \(\$scheme = http\) \{\s*return 418;\s*\}", root), root
    assert re.search(r"^\s*error_page 418 497 =301 @acv_https;", text, re.M)
    body = re.search(r"location @acv_https \{(.*?)\}", text, re.S).group(1)
    # to the certificate's name, never the request's Host (tried with nginx 1.22: « Host: exemple.fr » was sent
    # to https://exemple.fr/…, a visit by the IP address to https://192.0.2.1/…, which no certificate covers)
    assert 'add_header Location "https://$server_name$request_uri" always;' in body
    assert re.search(r"^\s*server_name [a-z0-9.-]+;", text, re.M)  # one name: $server_name is the first
    # and a préfecture that edits it is told so: « server_name _; », nginx's usual catch-all (which $host
    # bore), sent every HTTP visit to https://_/… (tried with nginx 1.22), several names to the first
    said = re.search(r"((?:^ *#.*\n)+) *server_name ", text, re.M).group(1)
    assert "le premier s'il y en a plusieurs" in said and "« _ » renverrait vers https://_/" in said, said
    docs = " ".join((ROOT / "docs" / "serveur.md").read_text(encoding="utf-8").split())
    assert ("sous le nom du certificat (le premier nom de `server_name`, celui de `--url-publique`, quel que soit "
            "le nom ou l'adresse IP par lesquels on est venu : jamais `server_name _;`, qui renverrait vers "
            "`https://_/…`)") in docs
    assert 'default_type "text/plain; charset=utf-8";' in body
    message = re.search(r'return 200 "(.*?)\\n";', body).group(1)
    assert message == "Le serveur ACV de la préfecture ne répond qu'en HTTPS : utilisez son adresse en https://."


def test_the_docs_name_every_front_end_text_the_box_shows_unsealed():
    """docs/serveur.md listed two texts of the front end that the box shows without a seal, while the
    page showed a third (429, « Trop de requêtes simultanées… »): what a forged link can show is what
    an IT person reads there."""
    text = (DEPLOY / "nginx-acv-xl.conf").read_text(encoding="utf-8")
    doc = " ".join((ROOT / "docs" / "serveur.md").read_text(encoding="utf-8").split())
    box = re.search(r"la page n'affiche que(.*?)pour tout le reste", doc).group(1)
    messages = {message for code, (_, message) in _error_pages(text).items() if code not in NEVER_TO_THE_ADD_IN}
    assert len(messages) == 7
    for message in messages:
        assert server_alert.FRONT_END_TEXTS.fullmatch(message)
        assert f"« {' '.join(message.split()[:3])}" in box, (message, box)


def test_nginx_limits_each_client_address_and_says_so_in_french():
    """The server sees every commune come from 127.0.0.1 behind nginx: nginx caps each address
    (`limit_conn`), answered by its French 429 (its own 503 read « momentanément indisponible (arrêt
    ou mise à jour) »); the container, behind the host's nginx, counts no address itself."""
    text = (DEPLOY / "nginx-acv-xl.conf").read_text(encoding="utf-8")
    zone = re.search(r"^limit_conn_zone \$binary_remote_addr zone=(\w+):\d+m;", text, re.M).group(1)
    assert re.search(rf"^\s+limit_conn {zone} \d+;", text, re.M) and "limit_conn_status 429;" in text
    doc = " ".join((ROOT / "docs" / "serveur.md").read_text(encoding="utf-8").split())
    limit = re.search(rf"limit_conn {zone} (\d+);", text).group(1)
    assert f"limit_conn {zone} {limit};" in doc and f"limit_conn_zone $binary_remote_addr zone={zone}" in doc
    cmd = json.loads(re.search(r"^CMD (\[.*?\])$", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"),
                               re.M | re.S).group(1).replace("\\\n", ""))
    assert _serveur_args(cmd).connexions_par_adresse == 0


def test_the_recipe_names_every_file_and_option():
    doc = (ROOT / "docs" / "serveur.md").read_text(encoding="utf-8")
    for name in ("acv-xl-serveur.service", "Dockerfile", "nginx-acv-xl.conf"):
        assert f"deploy/{name}" in doc, name
    parser = build_parser()
    serveur = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "serveur")[1]
    for action in serveur._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in doc, flag
    for env in (server_config.ENV_TOKEN, server_config.ENV_TOKEN_FILE, server_config.ENV_MAX_BODY,
                server_config.ENV_MAX_CELLS, server_config.ENV_TIMEOUT):
        assert env in doc, env


def test_the_recipe_runs_as_written_on_each_distribution_it_names():
    """docs/serveur.md's recipe is for Debian, Ubuntu or RHEL: `sudo editor …` (a Debian alternative)
    is « command not found » on RHEL, and `journalctl -u …` without sudo shows an ordinary account
    nothing of the service's journal; RHEL 9's python3 (3.9) cannot install acv-xl (3.11)."""
    doc = (ROOT / "docs" / "serveur.md").read_text(encoding="utf-8")
    commands = [line.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", doc, re.S)
                for line in block.splitlines()]
    commands += re.findall(r"`((?:sudo )?journalctl [^`]*)`", doc)
    assert any(c.startswith("sudoedit /etc/acv-xl/jetons.txt") for c in commands)
    for command in commands:
        assert not re.search(r"(^|\s)editor\s", command), command
        assert "journalctl" not in command or command.startswith("sudo journalctl"), command
    assert "RHEL 9 livre 3.9" in doc and "Ubuntu 22.04 livre 3.10" in doc
