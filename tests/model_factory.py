"""Build small random-weight seq2seq models with real configs and tokenizers, offline.

Used by the test fixtures (tiny shapes, seconds to build) and by ``bench/engines.py`` (the real
opus-mt-id-en shape). The weights are random: output is structurally valid and never a translation.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm

CORPUS = [
    "Indonesia kembali dipilih sebagai Shepherd ASEAN Smart City Network.",
    "Pertemuan tahunan ASCN ke-8 diselenggarakan di Kuala Lumpur, Malaysia.",
    "Kementerian Dalam Negeri memimpin delegasi Indonesia.",
    "Indonesia was chosen again as Shepherd of the ASEAN Smart City Network.",
    "The eighth annual meeting was held in Kuala Lumpur, Malaysia.",
    "The Ministry of Home Affairs led the Indonesian delegation.",
    "Kota cerdas, berkelanjutan, dan berketahanan di wilayah ASEAN.",
    "Smart, sustainable and resilient cities in the ASEAN region.",
    "Bandar pintar yang mampan di rantau ASEAN.",
    "Thành phố thông minh ở khu vực ASEAN. Matalinong lungsod sa rehiyon.",
    "1 2 3 4 5 6 7 8 9 0 2025 2018 ( ) , . - : ; ? ! \" ' / % & + = _ [ ] < >",
]


@dataclass(frozen=True)
class Shape:
    d_model: int = 32
    layers: int = 2
    heads: int = 2
    ffn: int = 64
    vocab_size: int = 200  # SentencePiece pieces; Marian may pad its vocab.json up to ``marian_vocab``
    marian_vocab: int | None = None
    max_positions: int = 256


TINY = Shape()
#: Helsinki-NLP/opus-mt-id-en: d_model 512, 6+6 layers, 8 heads, FFN 2048, 54,796-entry vocabulary.
OPUS_MT_ID_EN = Shape(d_model=512, layers=6, heads=8, ffn=2048, vocab_size=8000, marian_vocab=54796,
                      max_positions=512)


def train_spm(directory: Path, vocab_size: int, model_type: str = "unigram",
              ids: tuple[int, int, int, int] = (-1, 0, 1, 2), lines: list[str] | None = None) -> Path:
    """Train a SentencePiece model on ``lines`` (default :data:`CORPUS`); ``ids`` are (bos, pad, eos, unk)."""
    directory.mkdir(parents=True, exist_ok=True)
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(lines or CORPUS * 3) + "\n", encoding="utf-8")
    prefix = directory / "spm"
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(prefix), vocab_size=vocab_size, model_type=model_type,
        character_coverage=1.0, hard_vocab_limit=False, bos_id=ids[0], pad_id=ids[1], eos_id=ids[2],
        unk_id=ids[3], minloglevel=2,
    )
    corpus.unlink()
    return prefix.with_suffix(".model")


def build_marian(out: Path, shape: Shape = TINY, target_tokens: list[str] | None = None,
                 corpus: list[str] | None = None) -> Path:
    """A MarianMT model; ``target_tokens`` like ``['>>zsm_Latn<<']`` makes it multi-target; ``corpus`` trains
    its SentencePiece model (benchmarks use real text, so that sentences have realistic token counts)."""
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = train_spm(Path(tmp), shape.vocab_size, lines=corpus)
        sp = spm.SentencePieceProcessor(model_file=str(model_file))
        pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
        for piece in pieces + (target_tokens or []):
            if piece != "<pad>":
                vocab.setdefault(piece, len(vocab))
        filler = 0
        while shape.marian_vocab and len(vocab) < shape.marian_vocab - 1:
            vocab.setdefault(f"▁filler{filler}", len(vocab))
            filler += 1
        vocab["<pad>"] = len(vocab)  # CTranslate2's Marian converter wants <pad> last
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(model_file, out / "source.spm")
        shutil.copy(model_file, out / "target.spm")
        (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        source_spm=str(out / "source.spm"), target_spm=str(out / "target.spm"),
        vocab=str(out / "vocab.json"), source_lang="id", target_lang="en",
    )
    tokenizer.save_pretrained(out)
    config = MarianConfig(
        vocab_size=len(vocab), decoder_vocab_size=len(vocab), d_model=shape.d_model,
        encoder_layers=shape.layers, decoder_layers=shape.layers,
        encoder_attention_heads=shape.heads, decoder_attention_heads=shape.heads,
        encoder_ffn_dim=shape.ffn, decoder_ffn_dim=shape.ffn, max_position_embeddings=shape.max_positions,
        pad_token_id=vocab["<pad>"], eos_token_id=0, decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=0, scale_embedding=True, share_encoder_decoder_embeddings=True,
    )
    MarianMTModel(config).eval().save_pretrained(out)
    return out


NLLB_CODES = ["ind_Latn", "eng_Latn", "zsm_Latn", "tha_Thai", "vie_Latn", "tgl_Latn", "khm_Khmr",
              "lao_Laoo", "mya_Mymr"]


def build_nllb(out: Path, shape: Shape = TINY) -> Path:
    """An NLLB-style M2M100 model with an ``NllbTokenizer`` whose language codes are the nine ASEAN+en ones."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = train_spm(Path(tmp), shape.vocab_size, "bpe", ids=(0, 1, 2, 3))
        shutil.copy(model_file, Path(tmp) / "sentencepiece.bpe.model")
        tokenizer = NllbTokenizer.from_pretrained(tmp, src_lang="ind_Latn", tgt_lang="eng_Latn",
                                                  additional_special_tokens=NLLB_CODES)
    tokenizer.save_pretrained(out)
    size = len(tokenizer)
    config = M2M100Config(
        vocab_size=size, d_model=shape.d_model, encoder_layers=shape.layers, decoder_layers=shape.layers,
        encoder_attention_heads=shape.heads, decoder_attention_heads=shape.heads,
        encoder_ffn_dim=shape.ffn, decoder_ffn_dim=shape.ffn, max_position_embeddings=shape.max_positions,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id,
        scale_embedding=True,
    )
    M2M100ForConditionalGeneration(config).eval().save_pretrained(out)
    return out


def build_t5(out: Path, shape: Shape = TINY) -> Path:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = train_spm(Path(tmp), shape.vocab_size)
        shutil.copy(model_file, Path(tmp) / "spiece.model")
        tokenizer = T5Tokenizer.from_pretrained(tmp, extra_ids=0)
    tokenizer.save_pretrained(out)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=shape.d_model, d_kv=shape.d_model // shape.heads, d_ff=shape.ffn,
        num_layers=shape.layers, num_decoder_layers=shape.layers, num_heads=shape.heads,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=0,
    )
    T5ForConditionalGeneration(config).eval().save_pretrained(out)
    return out


def build_m2m100(out: Path, shape: Shape = TINY) -> Path:
    """An M2M100 model (facebook/m2m100_418M's architecture and tokenizer: ``__xx__`` language tokens, the
    target's forced as the first output token) with its real ``M2M100Tokenizer``."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = train_spm(Path(tmp), shape.vocab_size, "bpe", ids=(0, 1, 2, 3))
        sp = spm.SentencePieceProcessor(model_file=str(model_file))
        vocab: dict[str, int] = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        for i in range(sp.get_piece_size()):
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
        (Path(tmp) / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        shutil.copy(model_file, Path(tmp) / "sentencepiece.bpe.model")
        # As in the hub's special_tokens_map.json, the 100 ``__xx__`` tokens are special tokens (the
        # CTranslate2 converter finds them in the vocabulary that way).
        tokenizer = M2M100Tokenizer(str(Path(tmp) / "vocab.json"), str(Path(tmp) / "sentencepiece.bpe.model"),
                                    src_lang="id", tgt_lang="en", additional_special_tokens=[
                                        f"__{c}__" for c in FAIRSEQ_LANGUAGE_CODES["m2m100"]])
        tokenizer.save_pretrained(out)
    size = len(tokenizer) + tokenizer.num_madeup_words  # M2M100's embedding has 8 unused "madeup" rows
    config = M2M100Config(
        vocab_size=size, d_model=shape.d_model, encoder_layers=shape.layers, decoder_layers=shape.layers,
        encoder_attention_heads=shape.heads, decoder_attention_heads=shape.heads,
        encoder_ffn_dim=shape.ffn, decoder_ffn_dim=shape.ffn, max_position_embeddings=shape.max_positions,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id,
        scale_embedding=True,
    )
    M2M100ForConditionalGeneration(config).eval().save_pretrained(out)
    return out


#: MADLAD-400's target tokens for our languages (Filipino is ``fil`` there).
MADLAD_TOKENS = ["<2id>", "<2en>", "<2ms>", "<2th>", "<2vi>", "<2fil>", "<2km>", "<2lo>", "<2my>"]


def build_madlad(out: Path, shape: Shape = TINY) -> Path:
    """A MADLAD-400-style T5 model (google/madlad400-3b-mt's architecture: T5 with a SentencePiece vocabulary
    whose ``<2xx>`` pieces select the target language)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        corpus = directory / "corpus.txt"
        corpus.write_text("\n".join(CORPUS * 3) + "\n", encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(directory / "spiece"), vocab_size=shape.vocab_size,
            character_coverage=1.0, hard_vocab_limit=False, bos_id=-1, pad_id=0, eos_id=1, unk_id=2,
            user_defined_symbols=MADLAD_TOKENS, minloglevel=2,
        )
        corpus.unlink()
        tokenizer = T5Tokenizer.from_pretrained(tmp, extra_ids=0)
        tokenizer.save_pretrained(out)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=shape.d_model, d_kv=shape.d_model // shape.heads, d_ff=shape.ffn,
        num_layers=shape.layers, num_decoder_layers=shape.layers, num_heads=shape.heads,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=0,
    )
    T5ForConditionalGeneration(config).eval().save_pretrained(out)
    return out
