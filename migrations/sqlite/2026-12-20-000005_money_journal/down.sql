DROP INDEX money_journal_due;
DROP TABLE money_journal;
