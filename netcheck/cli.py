"""Command line: parse, call, print, exit code. Nothing else lives here.

Exit codes: 0 GO, 1 NO-GO, 3 INCOMPLETE, 2 usage or input error, 4 internal error.
Heavy modules (probes, rich) are imported inside the commands so that ``netcheck --help``
and ``--version`` stay fast.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from netcheck import __version__
from netcheck.textsafe import visible, visible_lines

if TYPE_CHECKING:
    from collections.abc import Generator

    from netcheck.result import RunResult

EXIT_INPUT = 2
EXIT_INTERNAL = 4


class Finite(click.FloatRange):
    """A FloatRange that refuses NaN and infinities: NaN passes every range comparison
    (``--rate-pps nan`` would make a token bucket that never allows a packet)."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        result = super().convert(value, param, ctx)
        if not math.isfinite(result):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return result


class InputError(click.ClickException):
    """Bad user input: printed as one ``error:`` line, exit code 2."""

    exit_code = EXIT_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {visible(self.format_message())}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="netcheck")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """netcheck: is this network ready for hosted (cloud) telephony?"""
    ctx.obj = {"debug": debug}
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


def _snmp_options(fn: Any) -> Any:
    """SNMP switch-audit options; secrets come from files or environment variables only
    (argv is visible to every user of the machine in ``ps``)."""
    options = [
        click.option("--switch", "switches", multiple=True, metavar="HOST[:PORT]",
                     help="Access switch to audit over SNMP (repeatable)."),
        click.option("--snmp-community-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="File holding the SNMPv2c community (else $NETCHECK_SNMP_COMMUNITY)."),
        click.option("--snmp-v3-user", help="SNMPv3 user (authPriv); keys from the files below."),
        click.option("--snmp-v3-auth-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="File holding the SNMPv3 auth key (else $NETCHECK_SNMP_V3_AUTH_KEY)."),
        click.option("--snmp-v3-priv-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="File holding the SNMPv3 privacy key (else $NETCHECK_SNMP_V3_PRIV_KEY)."),
        click.option("--snmp-v3-auth-proto", type=click.Choice(["MD5", "SHA", "SHA256", "SHA512"]),
                     default="SHA", show_default=True),
        click.option("--snmp-v3-priv-proto", type=click.Choice(["DES", "AES", "AES256"]),
                     default="AES", show_default=True),
        click.option("--snmp-v3-context", default="", help="SNMPv3 context name (usually empty)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _snmp_input(snmp: dict[str, Any]) -> Any:
    """The ``_snmp_options`` values as the run input's SNMP part (file names, no secrets)."""
    from netcheck.run.inputs import SnmpInput

    def name(key: str) -> str | None:
        value = snmp.pop(key, None)
        return str(value) if value is not None else None

    return SnmpInput(switches=tuple(snmp.pop("switches", ()) or ()), community_file=name("snmp_community_file"),
                     v3_user=snmp.pop("snmp_v3_user", None), v3_auth_file=name("snmp_v3_auth_file"),
                     v3_priv_file=name("snmp_v3_priv_file"), v3_auth_proto=snmp.pop("snmp_v3_auth_proto", "SHA"),
                     v3_priv_proto=snmp.pop("snmp_v3_priv_proto", "AES"),
                     v3_context=snmp.pop("snmp_v3_context", "") or "")


def _run_input_options(fn: Any) -> Any:
    """The options of one assessment, shared by ``run`` and ``agent`` (one typed run input:
    :class:`netcheck.run.inputs.RunInput`)."""
    from netcheck.waits import DHCP_WAIT_S, LLDP_WAIT_S

    options = [
        click.option("--profile", "profile_name", required=True, help="Shipped profile name or a YAML path."),
        click.option("--target", "targets", multiple=True, metavar="NAME=HOST",
                     help="Set or override a profile target's host (repeatable)."),
        click.option("--extensions", type=click.IntRange(1, 100_000), help="Extensions (phones) in use at the site."),
        click.option("--customer", help="Customer name for the report."),
        click.option("--site", "site_name", help="Site name for the report."),
        click.option("--technician", help="Who ran the test."),
        click.option("--quick", is_flag=True, help="Shorter measurement (the profile's quick duration)."),
        click.option("--responder", metavar="HOST[:PORT]",
                     help="A netcheck responder at the provider side: the call is measured with STAMP (port 862)."),
        click.option("--responder-key-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Shared key file: authenticated STAMP (HMAC-SHA-256) with the responder."),
        click.option("--interface", metavar="IFACE",
                     help="LAN probes (link, LLDP, DHCP): interface (default: the default route's)."),
        click.option("--lldp-wait", default=LLDP_WAIT_S, show_default=True, type=Finite(1, 300),
                     help="Seconds to listen for LLDP/CDP (LLDP sends every 30 s by default)."),
        click.option("--dhcp-wait", default=DHCP_WAIT_S, show_default=True, type=Finite(0.5, 30),
                     help="Seconds to collect DHCP OFFERs (DISCOVER only; no lease is taken). Servers that "
                     "ping an address before offering it (dnsmasq: 3 s) need more than 3 s."),
        click.option("--voice-vlan", type=click.IntRange(1, 4094),
                     help="Also DISCOVER on the 802.1Q sub-interface IFACE.VLAN."),
        click.option("--capacity/--no-capacity", default=True, show_default=True,
                     help="With --responder: ramp concurrent calls up to the bandwidth need (--extensions) "
                     "and test voice under bulk load."),
        click.option("--iperf3", "iperf3_server", metavar="HOST[:PORT]",
                     help="An iperf3 server: also measure raw TCP throughput up and down (iperf3's own figures)."),
        click.option("--package-mix", metavar="NAME=N,...",
                     help="Users per profile package, e.g. video=10,desktop_sharing=5 (stimme)."),
        click.option("--concurrency", type=Finite(0, 1, min_open=True),
                     help="Share of extensions in calls at once (default 1: every extension, the providers' rule)."),
        click.option("--low-cpu", is_flag=True,
                     help="Path calls on a sleep-only send schedule (busy-wait at most 0.05 ms per packet) for small "
                     "boxes; each call states its measured send error and is at most medium confidence."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return _snmp_options(fn)


def _run_input(kw: dict[str, Any]) -> Any:
    """Take the :func:`_run_input_options` values out of ``kw``: the typed run input."""
    from netcheck.run.inputs import RunInput, parse_targets

    key_file = kw.pop("responder_key_file", None)
    try:
        targets = parse_targets(kw.pop("targets", ()))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return RunInput(
        profile=kw.pop("profile_name"), targets=targets, customer=kw.pop("customer", None),
        site=kw.pop("site_name", None), technician=kw.pop("technician", None), extensions=kw.pop("extensions", None),
        quick=kw.pop("quick", False), responder=kw.pop("responder", None),
        responder_key_file=str(key_file) if key_file is not None else None, interface=kw.pop("interface", None),
        lldp_wait_s=kw.pop("lldp_wait"), dhcp_wait_s=kw.pop("dhcp_wait"), voice_vlan=kw.pop("voice_vlan", None),
        capacity=kw.pop("capacity", True), iperf3=kw.pop("iperf3_server", None),
        package_mix=kw.pop("package_mix", None), concurrency=kw.pop("concurrency", None),
        low_cpu=kw.pop("low_cpu", False), snmp=_snmp_input(kw),
    )


def _resolve(inp: Any) -> Any:
    """The checked request of a run input; its mistakes are one-line input errors."""
    from netcheck.run import inputs

    try:
        return inputs.resolve(inp)
    except inputs.InputError as exc:
        raise InputError(str(exc)) from None


# --------------------------------------------------------------------------- report options


def _report_options(fn: Any) -> Any:
    """Options every report-writing command takes (issue 18): appendix, privacy,
    integrator block, time zone, Ed25519 signature."""
    options = [
        click.option("--appendix/--no-appendix", default=None,
                     help="Raw measurements in an appendix (default: in HTML, not in PDF offers)."),
        click.option("--private", is_flag=True,
                     help="Leave this machine's host name, MAC and interface addresses out of the report."),
        click.option("--integrator", "integrator_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="TOML file with [integrator] name, contact, logo, signoff for the report's header."),
        click.option("--timezone", metavar="ZONE",
                     help="Time zone of the report's times (IANA name, e.g. Europe/Berlin; default: this machine's)."),
        click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path),
                     help="Ed25519 private key (PEM): write FILE.sig next to every file written."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _render_options(appendix: bool | None, private: bool, integrator_file: Path | None,
                    timezone: str | None) -> Any:
    from netcheck.i18n import zone
    from netcheck.reports.options import OptionsError, RenderOptions, load_integrator

    try:
        integrator = load_integrator(integrator_file) if integrator_file else None
        if timezone:
            zone(timezone)
    except (OptionsError, ValueError) as exc:
        raise InputError(str(exc)) from None
    return RenderOptions(appendix=appendix, private=private, integrator=integrator, timezone=timezone)


def _sign(paths: list[Path], key: Path | None) -> None:
    if key is None:
        return
    from netcheck.reports.signing import SigningError, sign_file

    for path in paths:
        try:
            click.echo(f"signed {sign_file(path, key)}")
        except SigningError as exc:
            raise InputError(str(exc)) from None


# --------------------------------------------------------------------------- run


@cli.command()
@_run_input_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("netcheck-results"), show_default=True, help="Directory for result and reports.")
@click.option("--format", "formats", multiple=True,
              type=click.Choice(["json", "text", "markdown", "html", "pdf"]),
              help="Report formats to write (repeatable; default json and html).")
@click.option("--lang", type=click.Choice(["en", "de"]), default="en", show_default=True,
              help="Language of the reports.")
@click.option("--plan", "plan_only", is_flag=True, help="Show what would be measured; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result document on stdout, nothing else.")
@_report_options
def run(out_dir: Path, formats: tuple[str, ...], plan_only: bool, as_json: bool, lang: str,
        appendix: bool | None = None, private: bool = False, integrator_file: Path | None = None,
        timezone: str | None = None, sign_key: Path | None = None, **inputs: Any) -> None:
    """Measure the site against a provider profile and write the verdict."""
    request = _resolve(_run_input(inputs))
    profile = request.profile
    if plan_only:  # the profile, the plan and the evaluator only: no run machinery, no report
        from netcheck.run import preview

        _print_plan(preview.plan_for(request), profile)
        return
    from netcheck import reports
    from netcheck.result import write_atomic
    from netcheck.run import assess

    render_options = _render_options(appendix, private, integrator_file, timezone)
    _check_writable(out_dir)
    result = _run_with_progress(request, quiet=as_json, lang=lang)
    interrupted = any(c.id == assess.INTERRUPTED_CHECK for c in result.checks)
    if not as_json:
        from netcheck.reports.terminal import rendering

        click.echo(rendering(lang), err=True)
    written = _save(result, out_dir, list(formats) or ["json", "html"], reports, write_atomic, lang, render_options)
    _sign(written, sign_key)
    if as_json:
        sys.stdout.buffer.write(reports.get("json")(result))
    else:
        from netcheck.reports import terminal
        from netcheck.reports.integrity import SPEC_MARKER

        text = reports.get("text")(result, lang)  # the render token is for files, not the screen
        sys.stdout.buffer.write(b"".join(x for x in text.splitlines(True) if not x.startswith(SPEC_MARKER.encode())))
        for path in written:
            click.echo(f"wrote {path}")
        click.echo("")
        for line in terminal.closing(result, lang):  # the verdict is the very last line
            click.echo(line)
    if interrupted:
        click.echo("interrupted: the result above holds what was measured (INCOMPLETE)", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(result.verdict.exit_code if written else EXIT_INPUT)


#: Exit code of a run stopped with Ctrl-C (128 + SIGINT, the shell convention).
EXIT_INTERRUPTED = 130


#: Where a result goes when ``--out`` cannot be written after measuring (stated in the
#: message); None: ``netcheck-results`` in the temporary directory, found on first use
#: (``tempfile`` would cost every command's start-up 4 ms: ``history``, issue 22).
FALLBACK_DIR: Path | None = None


def _fallback_dir() -> Path:
    import tempfile

    return FALLBACK_DIR or Path(tempfile.gettempdir()) / "netcheck-results"


def _check_writable(out_dir: Path) -> None:
    """Fail before measuring, not after: ``--out`` must be a directory we can create a file in."""
    import tempfile

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise InputError(f"--out {out_dir}: cannot write there: {exc.strerror or exc}") from None


def _save(result: RunResult, out_dir: Path, formats: list[str], reports: Any, write_atomic: Any,
          lang: str, options: Any = None) -> list[Path]:
    """Write to ``--out``; if that fails now (disk full, removed), to ``FALLBACK_DIR``,
    saying so: a measurement is never thrown away because a directory went bad."""
    try:
        return _write_outputs(result, out_dir, formats, reports, write_atomic, lang, options)
    except InputError as exc:
        click.echo(f"error: {exc.message}; saving to {_fallback_dir()} instead", err=True)
    try:
        return _write_outputs(result, _fallback_dir(), formats, reports, write_atomic, lang, options)
    except InputError as exc:
        click.echo(f"error: {exc.message}: the result could not be saved", err=True)
        return []


def _run_with_progress(request: Any, quiet: bool, lang: str = "en") -> RunResult:
    """Measure, showing each probe's outcome, a call's live figures and the time left
    (netcheck.reports.live; in place on a terminal, a few plain lines elsewhere)."""
    from netcheck.run import assess

    if quiet:
        return assess.run(request)
    from netcheck.reports.live import Screen

    with Screen(lang) as screen:
        return assess.run(request, screen.listener)


def _write_outputs(result: RunResult, out_dir: Path, formats: list[str], reports: Any,
                   write_atomic: Any, lang: str = "en", options: Any = None) -> list[Path]:
    stamp = result.environment.started_utc.replace(":", "").replace("-", "").split(".")[0]
    stem = f"netcheck-{result.profile.id}-{stamp}Z"
    written = []
    wanted = ["json", *dict.fromkeys(f for f in formats if f != "json")]
    for fmt, data in reports.render_all(result, wanted, lang, options).items():
        if isinstance(data, Exception):
            click.echo(f"error: {fmt} report failed: {data}", err=True)
            continue
        path = out_dir / f"{stem}.{reports.FORMATS[fmt][1]}"
        try:
            write_atomic(path, data)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
        written.append(path)
    return written


def _responder_key(path: Path | None) -> bytes | None:
    """The far end's key file (the responder's own reader: no run input loaded there)."""
    from netcheck.responder import server

    if path is None:
        return None
    try:
        return server.load_key(path)
    except server.KeyFileError as exc:
        raise InputError(str(exc)) from None


#: how a run shares time (netcheck.schedule), as ``--plan`` says it
_PLAN_MODES = {"call": ", with the other calls", "passive": ", beside the calls", "paced": ", beside the calls"}


def _print_plan(view: Any, profile: Any) -> None:
    """What ``run`` will do with the same inputs (``preview.plan_for``: the same plan code),
    how long it takes at most, and what it will not measure, with the reason."""
    click.echo(f"plan for profile {profile.id} ({profile.name}):")
    for r in view.runs:
        mode = " alone" if r.exclusive else _PLAN_MODES.get(r.kind, "")
        click.echo(f"  {r.id:<28} {r.probe:<11} {r.title}  (up to {r.timeout_s:.0f} s{mode})")
    if not view.runs:
        click.echo("  nothing to measure with these inputs")
    if view.cannot_run:
        click.echo("will not run on this machine (details: netcheck doctor):")
        for r, needs in view.cannot_run:
            click.echo(f"  {r.id}: needs {'; '.join(n.value for n in needs)}")
    minutes = view.total_s / 60.0
    click.echo(f"total: up to {view.total_s:.0f} s ({minutes:.1f} min): calls together in one call engine "
               "with listeners and paced probes beside them, then the other probes together, "
               "load tests one at a time")
    if view.not_measured or view.notes:
        click.echo("not measured:")
        for c in view.not_measured:
            need = "required" if c.required else "optional"
            click.echo(f"  {c.id} ({need}): {c.reason}")
        for note in view.notes:
            click.echo(f"  {note}")
    _print_limits()


def _print_limits() -> None:
    """What this machine cannot measure (fully), from the platform layer (``doctor`` has all)."""
    from netcheck import platform as plat
    from netcheck.platform import capabilities, measurable

    limited = [a for a in measurable.table(plat.caps(), capabilities.privileges()["raw_packet"])
               if a.level != "yes"]
    if limited:
        click.echo(f"limits on this machine ({plat.caps().system}; details: netcheck doctor):")
    for a in limited:
        click.echo(f"  {a.level:<6} {a.check}: {a.why}")


# --------------------------------------------------------------------------- report


class _ReportGroup(click.Group):
    """``netcheck report RESULT.json [--format ...]`` renders; ``netcheck report verify RESULT
    REPORT`` checks a report against its result. Anything that is not a subcommand name goes
    to ``render``, so the plain form keeps working (a result file named ``verify`` needs
    ``./verify``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            since = any(a == "--since" or a.startswith("--since=") for a in args)
            args = ["trend" if since else "render", *args]
        return super().parse_args(ctx, args)


@cli.group(cls=_ReportGroup)
def report() -> None:
    """Render a report from a result document, or verify a report against one.

    \b
    netcheck report RESULT.json --format html|pdf|markdown|text|json --lang de|en [-o FILE]
    netcheck report verify RESULT.json REPORT.pdf [--public-key KEY.pem]
    netcheck report keygen PRIVATE.pem PUBLIC.pem
    netcheck report sign RESULT.json REPORT.pdf --key PRIVATE.pem
    netcheck report --since 7d --format html|pdf|markdown|text [--store F] [-o FILE]
    """


@report.command("render")
@click.argument("result_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "html", "pdf"]),
              default="text", show_default=True)
@click.option("--lang", type=click.Choice(["en", "de"]), default="en", show_default=True,
              help="Language of the report.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@_report_options
def report_render(result_file: Path, fmt: str, lang: str, output: Path | None, appendix: bool | None,
                  private: bool, integrator_file: Path | None, timezone: str | None, sign_key: Path | None) -> None:
    """Render a report from a result document (RESULT.json); the default subcommand."""
    from netcheck import reports
    from netcheck.reports.view import TamperedError

    options = _render_options(appendix, private, integrator_file, timezone)
    result = _load_result(result_file)
    try:
        data = reports.get(fmt)(result, lang, options)
    except ImportError as exc:
        raise InputError(f"{fmt} report needs {exc.name or 'an extra package'}: "
                         "pip install 'netcheck[report]' (PDF also needs Debian's "
                         "libpango-1.0-0 libpangoft2-1.0-0)") from None
    except TamperedError as exc:
        raise InputError(f"{result_file}: {exc}") from None
    if sign_key and not output:
        raise InputError("--sign-key needs --output FILE (the signature is written next to it)")
    _emit(data, output)
    _sign([output] if output else [], sign_key)


def _emit(data: bytes, output: Path | None) -> None:
    """Write a rendered report atomically to ``output``, else to stdout."""
    from netcheck.result import write_atomic

    if output:
        write_atomic(output, data)
        click.echo(f"wrote {output}")
    else:
        sys.stdout.buffer.write(data)


@report.command("verify")
@click.argument("result_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("report_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path),
              help="Ed25519 public key (PEM): also check RESULT.sig and REPORT.sig.")
def report_verify(result_file: Path, report_file: Path, public_key: Path | None) -> None:
    """Was REPORT (pdf/html/md/txt) rendered from RESULT, unchanged? Checks the SHA-256 the
    report states, then renders the report again from RESULT and compares the content,
    naming every difference. Exit 0 match, 1 mismatch."""
    from netcheck.reports import verify
    from netcheck.reports.signing import SigningError, verify_file
    from netcheck.reports.view import TamperedError

    try:
        result_bytes, report_bytes = result_file.read_bytes(), report_file.read_bytes()
    except OSError as exc:
        raise InputError(f"{exc.filename}: {exc.strerror or exc}") from None
    try:
        outcome = verify.verify(result_bytes, report_bytes)
    except verify.VerifyError as exc:
        raise InputError(str(exc)) from None
    except TamperedError as exc:
        click.echo(f"mismatch: {result_file}: {exc}")
        sys.exit(1)
    click.echo(outcome.message)
    ok = outcome.ok
    if public_key is not None:
        try:
            for path in (result_file, report_file):
                check = verify_file(path, public_key)
                click.echo(check.message)
                ok = ok and check.ok
        except SigningError as exc:
            raise InputError(str(exc)) from None
    sys.exit(0 if ok else 1)


@report.command("sign")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Ed25519 private key (PEM).")
def report_sign(files: tuple[Path, ...], key: Path) -> None:
    """Sign result documents or reports: writes FILE.sig (Ed25519) next to each FILE."""
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise InputError(f"no such file: {', '.join(missing)}")
    _sign(list(files), key)


@report.command("keygen")
@click.argument("private_key", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("public_key", type=click.Path(dir_okay=False, path_type=Path))
def report_keygen(private_key: Path, public_key: Path) -> None:
    """Make an Ed25519 key pair (PEM) for --sign-key / --public-key."""
    from netcheck.reports.signing import keygen

    try:
        keygen(private_key, public_key)
    except FileExistsError:
        raise InputError(f"{private_key} exists; not overwritten") from None
    except OSError as exc:
        raise InputError(f"{exc.filename}: {exc.strerror or exc}") from None
    click.echo(f"wrote {private_key} (keep secret) and {public_key}")


def _load_result(path: Path) -> RunResult:
    import msgspec

    from netcheck.result import from_json

    try:
        return from_json(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError(f"{path}: not a netcheck result document: {exc}") from None


# --------------------------------------------------------------------------- inventory


@cli.command()
@_snmp_options
@click.option("--result", "result_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Take the phones from a result document instead of asking the switches.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write the inventory as CSV (for MAC-based provisioning); '-' for stdout.")
@click.option("--json", "as_json", is_flag=True, help="Print the phones as JSON.")
def inventory(result_file: Path | None, csv_file: Path | None, as_json: bool, **snmp: Any) -> None:
    """Phones on the access switches: MAC, vendor, model, IP, switch, port, VLAN, PoE class.

    Exit code 0, or 3 when a switch could not be audited."""
    import msgspec

    from netcheck.reports import inventory as inv
    from netcheck.result import write_atomic

    if result_file is not None:
        measurements = _load_result(result_file).measurements
    else:
        from netcheck.run import inputs

        try:
            targets = inputs.snmp_targets(_snmp_input(snmp))
        except inputs.InputError as exc:
            raise InputError(str(exc)) from None
        if not targets:
            raise InputError("give --switch HOST (with SNMP credentials) or --result RESULT.json")
        measurements = _audit(targets)
    failed = [m for m in measurements if m.probe == "snmp_switch" and m.error is not None]
    for m in failed:
        click.echo(visible(f"error: switch {m.target}: {m.error.kind.value}: {m.error.detail}"), err=True)  # type: ignore[union-attr]
    rows = inv.phones(measurements)
    if csv_file is not None and str(csv_file) == "-":
        sys.stdout.buffer.write(inv.to_csv(rows))
    elif as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode())
    else:
        _print_inventory(rows)
    if csv_file is not None and str(csv_file) != "-":
        write_atomic(csv_file, inv.to_csv(rows))
        click.echo(f"wrote {csv_file}", err=True)
    sys.exit(3 if failed else 0)


def _audit(targets: tuple[Any, ...]) -> list[Any]:
    import asyncio

    from netcheck.plan import core as plan
    from netcheck.platform import capabilities
    from netcheck.run import runner

    runs = plan.snmp_runs(targets)
    return asyncio.run(runner.run_all(runs, capabilities.privileges(), lambda _e: None))


def _print_inventory(rows: list[dict[str, Any]]) -> None:
    from netcheck.reports.inventory import COLUMNS

    rows = [{c: visible(r[c] if r[c] is not None else "-") for c in COLUMNS} for r in rows]  # SNMP data
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in COLUMNS}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in COLUMNS).rstrip())
    for r in rows:
        click.echo("  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip())
    click.echo(f"{len(rows)} phone(s)")


# --------------------------------------------------------------------------- profiles


@cli.group()
def profiles() -> None:
    """List, show and validate provider profiles."""


@profiles.command("list")
def profiles_list() -> None:
    """Shipped profiles."""
    from netcheck import profile as prof

    for path in prof.shipped():
        try:
            p = prof.load(str(path))
            click.echo(visible(f"{p.id:<24} {p.name}"))
        except prof.ProfileError as exc:
            click.echo(visible(f"{path.stem:<24} INVALID: {exc}"))


@profiles.command("show")
@click.argument("name")
def profiles_show(name: str) -> None:
    """The merged profile (after extends:) as JSON."""
    import msgspec

    p = _load_profile(name)
    click.echo(msgspec.json.format(msgspec.json.encode(p), indent=2).decode())


@profiles.command("validate")
@click.argument("paths", nargs=-1, required=True)
def profiles_validate(paths: tuple[str, ...]) -> None:
    """Check profile files; one line per file; exit 2 if any is invalid."""
    from netcheck import profile as prof

    bad = 0
    for path in paths:
        try:
            p = prof.load(path)
            click.echo(visible(f"ok: {path} ({p.id})"))
        except prof.ProfileError as exc:
            bad += 1
            click.echo(visible(f"error: {exc}"), err=True)
    if bad:
        sys.exit(EXIT_INPUT)


def _load_profile(name: str) -> Any:
    from netcheck import profile as prof

    try:
        return prof.load(name)
    except prof.ProfileError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"{name}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- responder


@cli.command()
@click.option("--bind", default="0.0.0.0", show_default=True, metavar="ADDR", help="Address to listen on.")
@click.option("--port", default=862, show_default=True, type=click.IntRange(0, 65535),
              help="UDP port of the STAMP reflector (RFC 8762: 862; 0 = any free port).")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Shared key file: accept only authenticated requests (HMAC-SHA-256): STAMP, "
              "range echo, SIP mirror, control.")
@click.option("--rate-pps", default=1000.0, show_default=True, type=Finite(1.0, 1_000_000.0),
              help="Requests per second accepted from one source address (token bucket).")
@click.option("--udp-ranges", default="", metavar="LO-HI,...",
              help="Echo on every port of these UDP ranges (the profile's media ports), e.g. "
              "16384-32767,50000-50100,60000-60100. See docs/responder.md.")
@click.option("--udp-mode", type=click.Choice(["auto", "sockets", "redirect"]), default="auto",
              show_default=True, help="Range reception: one socket per port, or one socket + an "
              "nftables redirect (root, Linux).")
@click.option("--udp-rate-pps", default=5000.0, show_default=True, type=Finite(1.0, 1_000_000.0),
              help="Range echo: requests per second accepted from one source address.")
@click.option("--sip-ports", default="5060", show_default=True, metavar="PORT|LO-HI,...",
              help="SIP mirror (SIP ALG detection) on UDP and TCP on these ports; add the "
              "profile's SIP ports, e.g. 5060,5090 for RingCentral; 'none' turns it off. With "
              "--key-file only authenticated requests are mirrored.")
def responder(bind: str, port: int, key_file: Path | None, rate_pps: float, udp_ranges: str,
              udp_mode: str, udp_rate_pps: float, sip_ports: str) -> None:
    """Run the far end: STAMP reflector, UDP range echo, SIP mirror, TCP control (coverage,
    exposure). See docs/responder.md."""
    import logging
    import signal

    from netcheck.responder import server as resp
    from netcheck.responder.udp_ranges import RangeSetupError
    from netcheck.wire.portecho import parse_ranges

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        ranges = parse_ranges(udp_ranges)
    except ValueError as exc:
        raise InputError(f"--udp-ranges: {exc}") from None
    sip = _sip_ports(sip_ports)
    config = resp.Config(bind=bind, port=port, key=_responder_key(key_file), rate_pps=rate_pps,
                         burst=rate_pps, udp_ranges=ranges, udp_mode=udp_mode,
                         udp_rate_pps=udp_rate_pps, control=True, sip_ports=sip)
    try:
        server = resp.Responder(config)
    except RangeSetupError as exc:
        raise InputError(f"--udp-ranges {udp_ranges}: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _s, _f: server.stop())
    click.echo(f"listening on {server.address[0]}:{server.address[1]}", err=True)
    server.serve()


def _sip_ports(text: str) -> tuple[int, ...]:
    """``--sip-ports``: ``none`` or a list of ports and ranges, at most MAX_PORTS in all."""
    from netcheck.responder.sip_mirror import MAX_PORTS
    from netcheck.wire.portecho import parse_ranges

    if text.strip().lower() in ("none", "off", ""):
        return ()
    try:
        ranges = parse_ranges(text)
    except ValueError as exc:
        raise InputError(f"--sip-ports: {exc}") from None
    ports = sorted({p for lo, hi in ranges for p in range(lo, hi + 1)})
    if len(ports) > MAX_PORTS:
        raise InputError(f"--sip-ports: at most {MAX_PORTS} ports (got {len(ports)}); the "
                         "probe tests the first port of each SIP row of the profile")
    return tuple(ports)


# --------------------------------------------------------------------------- doctor


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(as_json: bool) -> None:
    """What this machine allows: privileges, sockets, interfaces, gateway, tools."""
    import msgspec

    from netcheck import platform as plat
    from netcheck import probes
    from netcheck.platform import capabilities as caps
    from netcheck.platform import measurable

    privileges, gateway = caps.privileges(), caps.default_gateway()
    interfaces, tools = caps.interfaces(), caps.tools()
    abilities = measurable.table(plat.caps(), privileges["raw_packet"])
    cannot = {name: [n.value for n in unmet] for name in sorted(probes.PROBES)
              if (unmet := probes.unmet(name, privileges))}
    if as_json:
        info = {"os": caps.describe_os(), "privileges": privileges, "default_gateway": gateway,
                "measurable": abilities, "cannot_run": cannot, "interfaces": interfaces, "tools": tools}
        click.echo(msgspec.json.format(msgspec.json.encode(info), indent=2).decode())
        return
    click.echo(f"os: {caps.describe_os()}")
    system = plat.caps().system
    for key, ok in privileges.items():
        if key == "windows_icmp_api" and system != "win32":
            continue  # only meaningful on Windows
        hint = _HINTS.get(key, "") if system.startswith("linux") or key == "root" else ""
        click.echo(f"  {'yes' if ok else 'no ':<3}  {key}{'' if ok else hint}")
    click.echo("what this machine can measure:")
    for a in abilities:
        click.echo(f"  {a.level:<6} {a.check}: {a.why}")
    if cannot:
        click.echo("probes that cannot run here:")
        for name, what in cannot.items():
            click.echo(f"  {name}: needs {'; '.join(what)}")
    click.echo(f"default gateway: {gateway or 'none found'}")
    for iface in interfaces:
        speed = f"{iface.speed_mbps} Mbit/s {iface.duplex or ''}".strip() if iface.speed_mbps else "speed n/a"
        click.echo(f"  {iface.name:<12} {'up' if iface.is_up else 'down':<5} {speed:<18} mtu {iface.mtu}  "
                   f"{' '.join(iface.addresses)}")
    missing = [t for t, p in tools.items() if not p]
    found = [t for t, p in tools.items() if p]
    click.echo(f"tools found: {', '.join(found) or 'none'}; missing: {', '.join(missing) or 'none'}")


_HINTS = {
    "root": "  (some probes need root/Administrator)",
    "raw_icmp": "  (grant CAP_NET_RAW or run as root for privileged ICMP)",
    "unprivileged_icmp": "  (Linux: sysctl net.ipv4.ping_group_range='0 2147483647')",
    "raw_packet": "  (LLDP/DHCP listening needs root or CAP_NET_RAW; Linux AF_PACKET)",
}


# --------------------------------------------------------------------------- agent / history


#: Bounds of the agent's durations: a run period below 1 s would only measure the agent
#: itself; above ten years is a typo.
MIN_PERIOD_S = 1.0
MAX_DURATION_S = 10 * 366 * 86400.0


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, None: 1}


def parse_duration(text: str) -> float:
    """``"15m"`` -> 900.0; units s, m, h, d, w; a bare number is seconds. Here, not with
    the trend analysis: ``history --since`` must not import it (bench/agent_history.py)."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"expected a duration like 90s, 15m, 6h, 7d or 2w (got {text!r})")
    value = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    if value <= 0:
        raise ValueError(f"duration must be > 0 (got {text!r})")
    return value


def _duration(_ctx: Any, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None
    if seconds > MAX_DURATION_S:
        raise click.BadParameter(f"at most 10 years (got {value!r})", param=param)
    return seconds


def _period(ctx: Any, param: click.Parameter, value: str | None) -> float | None:
    seconds = _duration(ctx, param, value)
    if seconds is not None and seconds < MIN_PERIOD_S:
        raise click.BadParameter(f"must be at least {MIN_PERIOD_S:g} s (got {value!r})", param=param)
    return seconds


_STORE_OPTION = click.option(
    "--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), envvar="NETCHECK_STORE",
    default=Path("netcheck-agent.db"), show_default=True, help="SQLite history file (env NETCHECK_STORE).")


@cli.command()
@_run_input_options
@click.option("--every", default="15m", show_default=True, callback=_period, help="Run period (90s, 15m, 1h).")
@click.option("--full-every", callback=_period,
              help="Runs at --every are the monitor subset (stream, ports, DNS); a full run this often.")
@click.option("--jitter", callback=_duration, help="Random start offset per run (default 10 % of --every, <= 5m).")
@_STORE_OPTION
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="Serve Prometheus metrics on this port.")
@click.option("--metrics-bind", default="127.0.0.1", show_default=True, help="Address for the metrics server.")
@click.option("--deadline", default="10m", show_default=True, callback=_period,
              help="Hard limit per run; an overrunning run is abandoned and stored as such.")
@click.option("--grace", default="20s", show_default=True, callback=_duration,
              help="On SIGTERM, how long the current run may still finish.")
@click.option("--retention", default="400d", show_default=True, callback=_duration, help="Keep runs this long.")
@click.option("--webhook", metavar="URL", help="POST a JSON event on every verdict change (with retries).")
@click.option("--once", is_flag=True, help="One run now, stored, then exit (for cron / Task Scheduler).")
@click.option("--max-runs", type=click.IntRange(min=1), hidden=True)
def agent(every: float, full_every: float | None, jitter: float | None, store_path: Path,
          metrics_port: int | None, metrics_bind: str, deadline: float, grace: float, retention: float,
          webhook: str | None, once: bool, max_runs: int | None, **inputs: Any) -> None:
    """Watch the site: run the assessment on a schedule, store every result, export metrics.

    Every run takes the same inputs as ``netcheck run`` (checked once here, before the first
    run; each run's child process reads the key and credential files again)."""
    import logging

    from netcheck.agent import agent as ag
    from netcheck.agent import store as st

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run_input = _run_input(inputs)
    request = _resolve(run_input)
    cfg = ag.Config(
        run=run_input, profile_id=request.profile.id, store_path=store_path, every_s=every,
        jitter_s=min(every * 0.1, 300.0) if jitter is None else jitter, full_every_s=full_every,
        deadline_s=deadline, grace_s=grace, retention_s=retention,
        metrics_bind=metrics_bind, metrics_port=metrics_port, webhook=webhook,
        max_runs=1 if once else max_runs, immediate=once,
    )
    try:
        ag.serve(cfg)
    except (st.StoreError, ValueError) as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"agent: {exc.strerror or exc} ({metrics_bind}:{metrics_port})") from None


@cli.command()
@_STORE_OPTION
@click.option("--since", default="7d", show_default=True, callback=_duration, help="How far back (1h, 7d, 365d).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout instead of a table.")
@click.option("--report", "report_fmt", type=click.Choice(["text", "markdown", "html", "pdf"]),
              help="Trend report of the period (busy hour, worst windows, availability, failure shares).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--lang", type=click.Choice(["en", "de"]), default="en", show_default=True,
              help="Language of the trend report.")
def history(store_path: Path, since: float, as_csv: bool, report_fmt: str | None, output: Path | None,
            lang: str = "en") -> None:
    """Stored runs of the agent: a table, CSV, or a trend report (--report)."""
    import time

    from netcheck.agent import store as st

    if not store_path.is_file():
        raise InputError(f"{store_path}: no such store (start `netcheck agent --store {store_path}` first)")
    until = time.time()
    try:
        with st.Store(store_path) as store:
            if report_fmt:
                data = _trend_report(store, until - since, until, report_fmt, lang)
            else:
                from netcheck.reports import history as hist

                if as_csv:
                    data = hist.history_csv(store.runs(until - since, until)).encode()
                elif output:
                    data = "".join(hist.table(store, until - since, until)).encode()
                else:  # streamed: a year is 35,040 lines
                    _stream_out(hist.table(store, until - since, until))
                    return
    except st.StoreError as exc:
        raise InputError(str(exc)) from None
    _emit(data, output)


def _stream_out(chunks: Generator[str, None, None]) -> None:
    """Text chunks to stdout as they come. A reader that stops early (``history | head``)
    ends the output quietly, exit code 0, as when the table was one write; the generator
    is closed here, so its read transaction ends before the store closes."""
    import os

    with contextlib.closing(chunks):
        try:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk.encode())
            sys.stdout.buffer.flush()
        except BrokenPipeError:  # nothing more is read: the rest goes nowhere, quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@report.command("trend")
@_STORE_OPTION
@click.option("--since", required=True, callback=_duration, help="How far back (1h, 7d, 365d).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html", "pdf"]), default="text",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--lang", type=click.Choice(["en", "de"]), default="en", show_default=True,
              help="Language of the trend report.")
def report_trend(store_path: Path, since: float, fmt: str, output: Path | None, lang: str = "en") -> None:
    """Trend report of the agent's stored runs (``netcheck report --since 7d``): busy hour,
    worst windows, availability against the profile's promise, failure shares."""
    import time

    from netcheck.agent import store as st

    if not store_path.is_file():
        raise InputError(f"{store_path}: no such store (start `netcheck agent --store {store_path}` first)")
    until = time.time()
    try:
        with st.Store(store_path) as store:
            data = _trend_report(store, until - since, until, fmt, lang)
    except st.StoreError as exc:
        raise InputError(str(exc)) from None
    _emit(data, output)


def _trend_report(store: Any, since_ts: float, until_ts: float, fmt: str, lang: str = "en") -> bytes:
    from netcheck import profile as prof
    from netcheck.agent import trends
    from netcheck.reports import trend

    rows = store.runs(since_ts, until_ts)
    promise = None
    for pid in {r.profile for r in rows}:
        try:
            promise = prof.load(pid).availability_pct
        except (prof.ProfileError, OSError):
            continue
    notes = [f"{e.kind}: {e.detail}" for e in store.events(since_ts)
             if e.kind not in ("agent_start", "run_start")]  # run_start: bookkeeping, one per run
    data = trends.build(rows, store.check_counts(since_ts, until_ts), since_ts=since_ts, until_ts=until_ts,
                        promise_pct=promise, notes=notes, fault_segments=store.fault_segments(since_ts, until_ts))
    last = store.last_run(completed=True)
    context = trend.context_from(store.document(last.id) if last else None, lang)
    out = trend.render(data, fmt, lang, context)
    return visible_lines(out.decode()).encode() if fmt in ("text", "markdown") else out


# --------------------------------------------------------------------------- entry


def main() -> NoReturn:
    """Console entry point: one ``error:`` line instead of a traceback (unless --debug)."""
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if isinstance(exc, InputError) else EXIT_INPUT)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C into Abort
        interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
        click.echo("error: interrupted" if interrupted else "error: aborted", err=True)
        sys.exit(EXIT_INTERRUPTED if interrupted else EXIT_INPUT)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if debug:
            raise
        click.echo(visible(f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug)"), err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)


if __name__ == "__main__":
    main()
