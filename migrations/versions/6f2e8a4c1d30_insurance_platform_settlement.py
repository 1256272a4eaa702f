"""Real-time settlement with the insurance platform: settlements, exchanges, sign-ins.

One settlement per visit (its figures beside the visit, never on it), every
message sent and its answer, the daily 9001 sign-in, the msgid sequence.
No existing table changes; on PostgreSQL the (visit_id, visit_month) foreign
key points at the partitioned visit table's primary key.

Revision ID: 6f2e8a4c1d30
Revises: b7d9f1a3c5e8
Create Date: 2026-12-07 22:50:05.584383

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6f2e8a4c1d30'
down_revision = "b7d9f1a3c5e8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('insurance_msg_sequence',
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('last', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('fixmedins_code', name=op.f('pk_insurance_msg_sequence'))
    )
    op.create_table('insurance_sign_in',
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sign_no', sa.String(length=40), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('fixmedins_code', 'day', name=op.f('pk_insurance_sign_in'))
    )
    op.create_table('insurance_settlement',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('visit_month', sa.String(length=7), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('receipt_number', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('programme', sa.Boolean(), nullable=False),
    sa.Column('claim', sa.Text(), nullable=False),
    sa.Column('fees', sa.Integer(), nullable=False),
    sa.Column('self_pay', sa.Integer(), nullable=False),
    sa.Column('expected_fund', sa.Integer(), nullable=False),
    sa.Column('expected_fiscal', sa.Integer(), nullable=False),
    sa.Column('expected_patient', sa.Integer(), nullable=False),
    sa.Column('expected_lines', sa.Text(), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=True),
    sa.Column('insutype', sa.String(length=6), nullable=True),
    sa.Column('insured_on_platform', sa.Boolean(), nullable=True),
    sa.Column('mdtrt_id', sa.String(length=40), nullable=True),
    sa.Column('visit_info_sent', sa.Boolean(), nullable=False),
    sa.Column('chrg_bchno', sa.String(length=40), nullable=True),
    sa.Column('fee_results', sa.Text(), nullable=True),
    sa.Column('setl_id', sa.String(length=40), nullable=True),
    sa.Column('medins_setl_id', sa.String(length=40), nullable=True),
    sa.Column('setlinfo', sa.Text(), nullable=True),
    sa.Column('fund', sa.Integer(), nullable=True),
    sa.Column('fiscal', sa.Integer(), nullable=True),
    sa.Column('patient', sa.Integer(), nullable=True),
    sa.Column('why', sa.String(length=100), nullable=False),
    sa.Column('adjustment', sa.Integer(), nullable=False),
    sa.Column('statement_month', sa.String(length=7), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=False),
    sa.Column('voided', sa.Boolean(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reversed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status <> 'settled' OR (setl_id IS NOT NULL AND mdtrt_id IS NOT NULL AND fund IS NOT NULL AND fiscal IS NOT NULL AND patient IS NOT NULL AND fund >= 0 AND fiscal >= 0 AND patient >= 0 AND fund + fiscal + patient = expected_fund + expected_fiscal + expected_patient)", name=op.f('ck_insurance_settlement_settled_identity')),
    sa.CheckConstraint("status IN ('pending', 'settled', 'failed', 'reversed')", name=op.f('ck_insurance_settlement_status_known')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_insurance_settlement_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_insurance_settlement_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['visit_id', 'visit_month'], ['visit.id', 'visit.month'], name=op.f('fk_insurance_settlement_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_settlement')),
    sa.UniqueConstraint('visit_id', name='uq_insurance_settlement_visit')
    )
    with op.batch_alter_table('insurance_settlement', schema=None) as batch_op:
        batch_op.create_index('ix_insurance_settlement_clinic_month', ['clinic_id', 'visit_month'], unique=False)
        batch_op.create_index('ix_insurance_settlement_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_insurance_settlement_statement', ['clinic_id', 'statement_month'], unique=False)

    op.create_table('insurance_exchange',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('settlement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('infno', sa.String(length=4), nullable=False),
    sa.Column('msgid', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('request', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('infcode', sa.String(length=10), nullable=True),
    sa.Column('err_msg', sa.String(length=500), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('elapsed_ms', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('sending', 'answered', 'unreachable', 'unknown', 'reversed')", name=op.f('ck_insurance_exchange_state_known')),
    sa.ForeignKeyConstraint(['settlement_id'], ['insurance_settlement.id'], name=op.f('fk_insurance_exchange_settlement_id_insurance_settlement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_exchange')),
    sa.UniqueConstraint('msgid', name='uq_insurance_exchange_msgid')
    )
    with op.batch_alter_table('insurance_exchange', schema=None) as batch_op:
        batch_op.create_index('ix_insurance_exchange_settlement', ['settlement_id'], unique=False)



def downgrade():
    with op.batch_alter_table('insurance_exchange', schema=None) as batch_op:
        batch_op.drop_index('ix_insurance_exchange_settlement')

    op.drop_table('insurance_exchange')
    with op.batch_alter_table('insurance_settlement', schema=None) as batch_op:
        batch_op.drop_index('ix_insurance_settlement_statement')
        batch_op.drop_index('ix_insurance_settlement_due')
        batch_op.drop_index('ix_insurance_settlement_clinic_month')

    op.drop_table('insurance_settlement')
    op.drop_table('insurance_sign_in')
    op.drop_table('insurance_msg_sequence')
