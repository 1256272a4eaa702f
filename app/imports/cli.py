"""``flask import-data KIND FILE``: load the bureau's CSV files.

Problems go to stderr as ``FILE:LINE: field: message``, one per line, and the
command exits 1 having written nothing; on success it prints one summary line.
"""

from __future__ import annotations

import click
from sqlalchemy.exc import IntegrityError

from app.clock import clock
from app.errors import DomainError
from app.imports.operations import ImportRejected, import_file
from app.imports.schemas import KINDS


@click.command("import-data")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("file", type=click.Path(dir_okay=False))
def import_data(kind: str, file: str) -> None:
    """Import villages, clinics, residents, the catalogue, diagnoses, deaths or deliveries.

    FILE is a CSV file with a header row (SPEC §2).

    \b
    villages.csv   code,name,kind,town_code,town_name,district_code,district_name
    clinics.csv    code,name,village_code,insurance_code,joined_on,left_on
    residents.csv  id_number,name,hukou_village_code,insurance_type,insured_from,insured_to
                   optional: died_on
    deaths.csv     id_number,died_on  (the visits on or after a death go to review)
    deliveries.csv clinic,date,item,batch_number,expiry,quantity,price,supplier,
                   approval_number  optional: national_code  (quantity in the item's unit)
    catalog.csv    code,name,kind,unit,insurance_class,price,valid_from,valid_to
                   optional: max_per_visit,units_per_day,injectable,sex,min_age,max_age,
                   national_code,fee_class,selfpay_ratio,price_ceiling
    diagnoses.csv  code,name,system,valid_from,valid_to   (system: western or tcm)

    UTF-8 (with or without BOM), a header row; all or nothing; re-importing is safe.
    """
    try:
        summary = import_file(kind, file, now=clock()())
    except ImportRejected as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        click.echo(f"{file}: {len(exc.lines())} problem(s); nothing was imported", err=True)
        raise SystemExit(1) from None
    except DomainError as exc:
        for problem in exc.problems:
            click.echo(f"{problem.field}: {problem.message}", err=True)
        raise SystemExit(1) from None
    except IntegrityError:
        # Two imports of overlapping files ran at once and the other one won.
        click.echo(f"{file}: another import wrote the same rows meanwhile; run it again", err=True)
        raise SystemExit(1) from None
    click.echo(str(summary))
