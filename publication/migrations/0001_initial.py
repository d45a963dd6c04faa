"""The Publication model, taken over from the trust-list app with its table and rows."""

from django.db import migrations, models


def _content_type_to(app_label: str, other: str):
    """Move the content type row of publication between apps, so that admin history and permissions
    that point at it follow the model."""

    def move(apps, schema_editor):
        content_types = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
        if not content_types.filter(app_label=app_label, model="publication").exists():
            content_types.filter(app_label=other, model="publication").update(app_label=app_label)

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("trustlist", "0006_group_labels_publication_index"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The table stays where it is (db_table "trustlist_publication"): no row is copied.
            state_operations=[
                migrations.CreateModel(
                    name='Publication',
                    fields=[
                        ('id', models.BigAutoField(primary_key=True, serialize=False)),
                        ('issued_at', models.DateTimeField()),
                        ('expires_at', models.DateTimeField()),
                        ('previous', models.BigIntegerField(blank=True, help_text="sequence this one's delta starts from", null=True)),
                        ('change_high_water', models.BigIntegerField(help_text='last outbox change included')),
                        ('full_sequence', models.BigIntegerField(blank=True, help_text='sequence of the full lists its index names (at most its own)', null=True)),
                        ('trust_list_sha256', models.CharField(max_length=64)),
                        ('trust_list_length', models.BigIntegerField()),
                        ('revocation_list_sha256', models.CharField(max_length=64)),
                        ('revocation_list_length', models.BigIntegerField()),
                        ('delta_sha256', models.CharField(max_length=64)),
                        ('delta_length', models.BigIntegerField()),
                        ('chain_start', models.BigIntegerField(blank=True, help_text="oldest sequence the index's chain of deltas leads from; empty for indexes of version 2 and older, whose deltas name no previous delta", null=True)),
                        ('span_start', models.BigIntegerField(blank=True, help_text='for a full-list sequence X that ends a chain of spans: the oldest sequence that chain leads from (X itself when none leads to X: a reset, or the first)', null=True)),
                        ('span_previous', models.BigIntegerField(blank=True, help_text="the sequence X's span starts from (empty: no span ends at X)", null=True)),
                        ('span_sha256', models.CharField(blank=True, default='', max_length=64)),
                        ('span_length', models.BigIntegerField(default=0)),
                        ('delta_plain', models.BooleanField(db_default=False, default=True, help_text='its delta is plain JSON (index version 5 on); else JWS')),
                        ('span_plain', models.BooleanField(db_default=False, default=True, help_text='the span ending here is plain JSON (index version 5 on); else JWS')),
                        ('index_sha256', models.CharField(max_length=64)),
                        ('publisher_kid', models.CharField(max_length=64)),
                        ('trusted_count', models.IntegerField()),
                        ('revoked_count', models.IntegerField()),
                    ],
                    options={
                        'db_table': 'trustlist_publication',
                        'ordering': ('-id',),
                        'indexes': [models.Index(fields=['change_high_water', 'id'], name='publication_high_water')],
                    },
                ),
            ],
            database_operations=[
                migrations.RunPython(_content_type_to("publication", "trustlist"), _content_type_to("trustlist", "publication")),
            ],
        ),
    ]
