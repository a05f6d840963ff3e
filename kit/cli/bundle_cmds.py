"""``taalkit bundle``, ``open`` and ``keygen``: a workspace's GGUF and dictionary as one signed zip
for another laptop (kit.bundle, kit.signing)."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .common import ProgressPrinter


@main.command("bundle")
@click.argument("ws_path", metavar="WS", type=click.Path(path_type=Path))
@click.option("--out", "-o", "out", required=True, type=click.Path(path_type=Path), help="The .zip to write.")
@click.option("--export-id", type=int, default=None, help="Which export (default: the newest).")
@click.option("--sign", "sign_key", type=click.Path(path_type=Path), default=None, metavar="KEYFILE",
              help="Sign the bundle with this secret key (from 'taalkit keygen').")
def bundle_cmd(ws_path: Path, out: Path, export_id, sign_key) -> None:
    """Pack a workspace's exported GGUF and dictionary into one zip for another laptop."""
    from ..bundle import bundle
    from ..fsutil import human_bytes
    from ..workspace import Workspace

    ws = Workspace.open(ws_path)
    try:
        manifest = bundle(ws, out, export_id=export_id, sign_key=sign_key, progress=ProgressPrinter())
    finally:
        ws.close()
    click.echo(f"wrote {out} ({human_bytes(manifest['zip_bytes'])}): {manifest['export']['path']} "
               f"and {manifest['entries']} dictionary entries")
    if manifest.get("signed_by"):
        click.echo(f"signed by {manifest['signed_by']}; receivers check it with 'taalkit open {out.name} "
                   f"--trust {sign_key}.pub'")


@main.command("keygen")
@click.argument("keyfile", type=click.Path(path_type=Path))
def keygen_cmd(keyfile: Path) -> None:
    """Make a key pair for signing bundles: KEYFILE (secret, keep it) and KEYFILE.pub (give it out)."""
    from ..signing import keygen

    secret, public, fpr = keygen(keyfile)
    click.echo(f"secret key {secret} (keep it to yourself)\npublic key {public} (give it to receivers)\n"
               f"fingerprint {fpr}")


@main.command("open")
@click.argument("zip_path", metavar="FILE.zip", type=click.Path(path_type=Path))
@click.option("--to", "dest", type=click.Path(path_type=Path), default=None,
              help="New workspace folder (default: the zip's name beside it).")
@click.option("--trust", type=click.Path(path_type=Path), default=None, metavar="PUBKEY",
              help="Only open a bundle signed by this public key (KEYFILE.pub from its maker).")
def open_cmd(zip_path: Path, dest, trust) -> None:
    """Unpack a bundle into a new workspace, ready to chat, translate and look words up."""
    from ..bundle import open_bundle

    dest = dest or zip_path.with_suffix("")
    ws = open_bundle(zip_path, dest, trust=trust, progress=ProgressPrinter())
    root = ws.root
    sig = ws.signature
    ws.close()
    if sig["trusted"]:
        click.echo(f"signed by {sig['signed_by']}: the key you trust; nothing was changed since it signed")
    elif sig["signed"]:
        click.echo(f"signed by {sig['signed_by']} (not checked against a key you trust: pass --trust KEY.pub)")
    else:
        click.echo("not signed: the checksums only catch damage, not someone changing the bundle on purpose")
    click.echo(f"workspace ready at {root}\n  chat:      taalkit -w {root} chat\n"
               f"  translate: taalkit -w {root} translate TEXT\n  look up:   taalkit -w {root} dict search WORD")
