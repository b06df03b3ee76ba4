"""How every `studio` parser explains itself: each option's default beside its
help, and an epilog naming the environment variables the command reads, their
text and defaults taken from the Settings fields that declare them."""

from __future__ import annotations

import argparse
from dataclasses import fields
from importlib.metadata import PackageNotFoundError, version

from app.config import Settings

# Where a command finds its database, and where a client command sends its
# calls (the API when STUDIO_URL is set, else that database).
DATABASE = ("database_url", "data_dir")
CLIENT = ("studio_url", "studio_token", *DATABASE)


class HelpFormatter(argparse.HelpFormatter):
    """Wraps a one-paragraph text but keeps one of several lines (an epilog)
    as written, and adds "(default: ...)" to every option that has one; a
    flag or an option left unset by default has none."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        # argparse measures a subcommand's name without the indent it prints
        # it at, so a long name (recognize) would push its help to a new line.
        if isinstance(action, argparse._SubParsersAction) and action.help is not argparse.SUPPRESS:
            for choice in action._get_subactions():
                length = len(self._format_action_invocation(choice)) + self._current_indent + 2
                self._action_max_length = max(self._action_max_length, length)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS)
        if shown and action.option_strings and "%(default)" not in text:
            text = f"{text} (default: %(default)s)".lstrip()
        return text or None


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands, at any depth, explain themselves
    the same way (add_subparsers makes each subparser of the parser's class)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def environment(*names: str) -> str:
    """An epilog listing the Settings `names` as their variables, with help and default."""
    by_name = {item.name: item for item in fields(Settings)}
    rows = []
    for name in names:
        item = by_name[name]
        text = item.metadata["help"]
        # 0 is a default to show (0 == False would hide it); unset and off are not.
        if item.default is not None and item.default is not False:
            text += f" (default: {item.default})"
        rows.append((item.metadata["env"], text))
    width = max(len(variable) for variable, _ in rows)
    return "environment:\n" + "\n".join(f"  {v:<{width}}  {t}" for v, t in rows)


def package_version() -> str:
    try:
        return version("groundtruth-studio-sync")
    except PackageNotFoundError:  # a source tree run without installing it
        return "unknown (not installed)"
