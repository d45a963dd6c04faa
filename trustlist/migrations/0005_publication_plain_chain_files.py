from django.db import migrations, models


class Migration(migrations.Migration):
    """Sequences published before this migration have JWS deltas and spans (delta.jws, span.jws);
    those published after it, plain JSON (delta.json, span.json)."""

    dependencies = [
        ("trustlist", "0004_publication_spans"),
    ]

    operations = [
        migrations.AddField(
            model_name="publication",
            name="plain_chain_files",
            field=models.BooleanField(default=False),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="publication",
            name="plain_chain_files",
            field=models.BooleanField(
                default=True, help_text="its delta and span are plain JSON (index version 5 on); else JWS"
            ),
        ),
    ]
