from ._component import unsupported

BpeTrainer = unsupported("trainers.BpeTrainer")
UnigramTrainer = unsupported("trainers.UnigramTrainer")
WordLevelTrainer = unsupported("trainers.WordLevelTrainer")
WordPieceTrainer = unsupported("trainers.WordPieceTrainer")
