"""The audit log as a table (``ddbstream audit``; DuckDB comes with the ``local`` extra).

* :mod:`.store`: the local copy of the audit objects, kept in step with the bucket by boto3;
* :mod:`.views`: DuckDB's ``changes_raw`` and ``changes`` views over it (``audit query``);
* :mod:`.items`: lines parsed exactly, typed values, item keys, diffs, times;
* :mod:`.history`, :mod:`.asof`: an item's timeline; the table at a moment;
* :mod:`.commands`: the verbs, ``tail`` among them; :mod:`.output`: table / CSV / JSON.
"""
