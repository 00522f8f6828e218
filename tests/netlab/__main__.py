"""Drive the lab by hand: ``python -m tests.netlab up|down|status``.

    python -m tests.netlab up --impair "delay=30ms jitter=5ms loss=0.5%" --seed 7
    python -m tests.netlab up --l2
    python -m tests.netlab status
    python -m tests.netlab down            # every lab built by `up`, and orphaned ones
    python -m tests.netlab down nc1a2b3c   # one lab

``up`` prints the namespace names and the truth-log path and leaves the lab running (the
bridge is in its own session); ``down`` stops the recorded PIDs (checked to live in the
lab's namespaces) and deletes the namespaces. Run from the repo root, as root.
"""

from __future__ import annotations

import argparse
import json
import sys

from tests.netlab.lab import (
    STATE_DIR,
    RoutedLab,
    lab_support,
    load_states,
    open_l2_lab,
    open_routed_lab,
    owner_alive,
    teardown_state,
)


def cmd_up(args: argparse.Namespace) -> int:
    """Build a lab and leave it running; record that `up` owns it."""
    lab = open_l2_lab() if args.l2 else open_routed_lab(args.impair, seed=args.seed)
    state = json.loads(lab.state_path.read_text())
    state["owner_pid"] = None  # owned by the CLI: `down` removes it
    lab.state_path.write_text(json.dumps(state, indent=1))
    info = {
        "id": lab.id,
        "namespaces": lab.namespaces,
        "workdir": str(lab.workdir),
        "addr": vars(lab.addr),
        "truth_log": str(getattr(lab, "truth_log", None)),
    }
    print(json.dumps(info, indent=1))
    first = lab.namespaces[0]
    target = lab.addr.dc if isinstance(lab, RoutedLab) else lab.addr.gw
    print(f"\ntry: ip netns exec {first} ping -c 5 {target}")
    print(f"then: python -m tests.netlab down {lab.id}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Tear down one lab, or every CLI-built and orphaned lab."""
    done = 0
    for state in load_states():
        mine = (
            state["id"] == args.id
            if args.id
            else (state.get("owner_pid") is None or not owner_alive(state))
        )
        if mine:
            teardown_state(state)
            print(f"removed {state['id']}: {', '.join(state['namespaces'])}")  # type: ignore[arg-type]
            done += 1
    if not done:
        print("nothing to remove" + (f" for {args.id}" if args.id else ""))
    return 0


def cmd_status(_args: argparse.Namespace) -> int:
    """List the labs known in the state directory."""
    for state in load_states():
        owner = "cli" if state.get("owner_pid") is None else f"pid {state['owner_pid']}"
        print(f"{state['id']} ({state['kind']}, {owner}): {', '.join(state['namespaces'])}")  # type: ignore[arg-type]
    print(f"(state files in {STATE_DIR})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.netlab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build a lab and leave it running")
    up.add_argument("--impair", default=None, help='impairment spec; "" = clean bridge')
    up.add_argument("--seed", type=int, default=1)
    up.add_argument("--l2", action="store_true", help="the flat layer-2 segment instead")
    down = sub.add_parser("down", help="tear labs down")
    down.add_argument("id", nargs="?", help="lab id (nc + 6 hex); default: CLI and orphans")
    sub.add_parser("status", help="list labs")
    args = ap.parse_args(argv)
    reason = lab_support()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    return {"up": cmd_up, "down": cmd_down, "status": cmd_status}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
