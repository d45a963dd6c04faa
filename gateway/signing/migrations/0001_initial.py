"""The PublisherKey model, taken over from the trust-list app with its table and rows."""

from django.db import migrations, models


def _content_type_to(app_label: str, other: str):
    """Move the content type row of publisherkey between apps, so that admin history and permissions
    that point at it follow the model."""

    def move(apps, schema_editor):
        content_types = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
        if not content_types.filter(app_label=app_label, model="publisherkey").exists():
            content_types.filter(app_label=other, model="publisherkey").update(app_label=app_label)

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("trustlist", "0006_group_labels_publication_index"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The table stays where it is (db_table "trustlist_publisherkey"): no row is copied.
            state_operations=[
                migrations.CreateModel(
                    name='PublisherKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('label', models.CharField(max_length=64, unique=True)),
                        ('key_path', models.CharField(max_length=512)),
                        ('csr_pem', models.TextField()),
                        ('certificate', models.BinaryField(blank=True, help_text='DER, signed by the trust anchor', null=True)),
                        ('state', models.CharField(choices=[('PENDING', "CSR issued, waiting for the trust anchor's certificate"), ('NEXT', 'certified, announced as the next key'), ('CURRENT', 'signs publications'), ('RETIRED', 'no longer used')], default='PENDING', max_length=8)),
                        ('created_at', models.DateTimeField()),
                        ('state_changed_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'trustlist_publisherkey',
                    },
                ),
            ],
            database_operations=[
                migrations.RunPython(_content_type_to("signing", "trustlist"), _content_type_to("trustlist", "signing")),
            ],
        ),
    ]
