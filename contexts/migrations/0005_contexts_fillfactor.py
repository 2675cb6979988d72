from django.db import migrations


class Migration(migrations.Migration):
    """Leave room on each page of contexts for the row's next version: every read counts itself (access_count,
    last_accessed_at), and with room on its page that update is HOT (no new entry in any of the table's seven
    indexes, two of them GIN, and only the changed bytes in the WAL). At the default fillfactor of 100 a page
    filled by inserts has no room, so a row's first read after it was written also rewrites every index.

    70 %: the main row of a context is at most about 2 kB (a longer content or search vector moves out of line to
    TOAST), and the 30 % kept free (2.4 kB of 8 kB) always holds one more version of it, which page pruning
    reclaims once the old one is dead. It applies to pages filled from now on (existing rows move to roomier
    pages as they are updated, or at once with VACUUM FULL or pg_repack). SET (fillfactor) changes the
    catalogue only, under a lock that lets reads and writes go on.
    """

    dependencies = [("contexts", "0004_validate_summary_status")]

    operations = [
        migrations.RunSQL("ALTER TABLE contexts SET (fillfactor = 70)", "ALTER TABLE contexts RESET (fillfactor)"),
    ]
