"""A small Debian package built in memory, for the tests of loaders that unpack .deb archives."""

import io
import tarfile


def make_deb(files: dict[str, bytes]) -> bytes:
    """A Debian package as dpkg-deb builds one: an ar archive of debian-binary, control, data."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w:xz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    out = b"!<arch>\n"
    for name, content in (("debian-binary", b"2.0\n"), ("control.tar.xz", b"x"), ("data.tar.xz", tar_bytes.getvalue())):
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(content):<10}`\n".encode() + content
        out += b"\n" if len(content) % 2 else b""
    return out
