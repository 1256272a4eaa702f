"""``flask policy load FILE.toml`` and ``flask policy show --district CODE``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.checks.rules import policy_lines
from app.errors import DomainError
from app.money import format_yuan
from app.policy.models import RATIO_SCALE
from app.policy.queries import policy_versions
from app.publishing.operations import PolicyRefused, PolicyRejected, load_policy_file
from app.publishing.usage import visits_per_version

policy_cli = AppGroup("policy", help="Programme policy versions per district.")


@policy_cli.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
def load_command(file: str) -> None:
    """Load a policy version from a TOML FILE (see SPEC §2 for the keys)."""
    try:
        result = load_policy_file(file)
    except (PolicyRejected, PolicyRefused) as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        raise SystemExit(1) from None
    except DomainError as exc:
        for problem in exc.problems:
            click.echo(f"{file}: {problem.field}: {problem.message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{file}: {result}")


def _ratio(value: int) -> str:
    """7000 → ``0.70``: as the TOML file writes it, at least two decimals."""
    whole, frac = divmod(value, RATIO_SCALE)
    digits = f"{frac:04d}"
    while len(digits) > 2 and digits.endswith("0"):
        digits = digits[:-1]
    return f"{whole}.{digits}"


@policy_cli.command("show")
@click.option("--district", "district", required=True, help="6-digit district code")
def show_command(district: str) -> None:
    """List the policy versions of a district, oldest first."""
    versions = policy_versions(district)
    if not versions:
        click.echo(f"district {district}: no policy version (no programme)")
        return
    used = visits_per_version(district)
    for v in versions:
        visit_cap = format_yuan(v.fund_visit_cap) if v.fund_visit_cap is not None else "none"
        click.echo(
            f"{v.district_code} from {v.effective_from.isoformat()}  (version {v.id}, "
            f"{used.get(v.id, 0)} visits{', locked' if used.get(v.id) else ''})\n"
            f"  registration_fee={format_yuan(v.registration_fee)}"
            f" injection_fee={format_yuan(v.injection_fee)}"
            f" fund_ratio={_ratio(v.fund_ratio)}"
            f" fund_deductible={format_yuan(v.fund_deductible)}"
            f" fund_annual_cap={format_yuan(v.fund_annual_cap)}"
            f" fund_visit_cap={visit_cap}\n"
            f"  class_b_selfpay_ratio={_ratio(v.class_b_selfpay_ratio)}"
            f" class_b_selfpay_backstopped={str(v.class_b_selfpay_backstopped).lower()}"
            f" require_insured={str(v.require_insured).lower()}\n"
            f"  over_ceiling_backstopped={str(v.over_ceiling_backstopped).lower()}"
            f" require_diagnosis={str(v.require_diagnosis).lower()}"
            f"  source={v.source}"
        )
        for line in policy_lines(v.to_policy().oversight):
            click.echo(f"  {line}")
