"""Publication and PublisherKey belong to the publication and signing apps, which keep their
tables: this app forgets them without dropping anything."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("trustlist", "0006_group_labels_publication_index"),
        ("publication", "0001_initial"),
        ("signing", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Publication"),
                migrations.DeleteModel(name="PublisherKey"),
            ],
            database_operations=[],
        ),
    ]
