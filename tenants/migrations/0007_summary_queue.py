import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0006_django_cache_table'),
    ]

    operations = [
        migrations.CreateModel(
            name='SummaryQueueEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('summary_id', models.BigIntegerField(help_text="The summary's id in the tenant's schema.")),
                ('context_id', models.BigIntegerField(help_text="Its context's id in the tenant's schema.")),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('failed', 'Failed')], default='queued', max_length=16)),
                ('due_at', models.DateTimeField(blank=True, help_text='When a worker may take it; empty once failed.', null=True)),
                ('claimed_by', models.CharField(blank=True, help_text='The worker that took it last.', max_length=200)),
                ('claim_token', models.UUIDField(blank=True, help_text='Which claim may write the result.', null=True)),
                ('claimed_until', models.DateTimeField(blank=True, help_text='When the claim lapses unless renewed.', null=True)),
                ('claims', models.IntegerField(default=0, help_text='How many times a worker took it.')),
                ('lost_claims', models.IntegerField(default=0, help_text='Claims that lapsed: their worker stopped mid-summary.')),
                ('last_error', models.CharField(blank=True, max_length=500)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='summary_queue', to='tenants.tenant')),
            ],
            options={
                'verbose_name': 'summary queue entry',
                'verbose_name_plural': 'summary queue',
                'db_table': 'summary_queue',
                'ordering': ['due_at', 'id'],
                'indexes': [models.Index(condition=models.Q(('state', 'queued')), fields=['due_at', 'id'], name='summary_queue_due_idx'), models.Index(fields=['tenant', 'context_id'], name='summary_queue_context_idx')],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'summary_id'), name='summary_queue_summary_unique'), models.CheckConstraint(condition=models.Q(('state__in', ['queued', 'failed'])), name='summary_queue_state_valid'), models.CheckConstraint(condition=models.Q(models.Q(('state', 'queued'), _negated=True), ('due_at__isnull', False), _connector='OR'), name='summary_queue_queued_has_due_time'), models.CheckConstraint(condition=models.Q(('claims__gte', 0), ('lost_claims__gte', 0)), name='summary_queue_claims_counted')],
            },
        ),
    ]
