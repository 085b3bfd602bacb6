"""Writes a tiny Llama model directory for scripts/lm_eval.py tests:
config.json + model.safetensors (save_pretrained) and a word-level
tokenizer.json built with the `tokenizers` library from the words of a text
(lower case, punctuation split off, <s> added at the start of a sequence).

    make_tiny_llama.py OUT_DIR --text FILE [--train-steps N] [--tokens OUT.txt]

--train-steps trains the model on the text for N steps (AdamW), so that its
cross-entropy is far below a random model's and quantization shows;
--tokens also writes the text's ids, white-space separated.
"""

import argparse
import os
import pathlib

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors  # noqa: E402


def build_tokenizer(text):
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Punctuation()])
    words = sorted({w for w, _ in tok.pre_tokenizer.pre_tokenize_str(text.lower())})
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tok.model = models.WordLevel(vocab, unk_token="<unk>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return tok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--text", type=pathlib.Path, required=True)
    parser.add_argument("--train-steps", type=int, default=0)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--tokens", type=pathlib.Path, default=None)
    args = parser.parse_args()
    text = args.text.read_text()
    tok = build_tokenizer(text)
    torch.manual_seed(7)
    config = transformers.LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=256, rope_theta=10000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    model = transformers.LlamaForCausalLM(config)
    ids = torch.tensor(tok.encode(text).ids)
    if args.train_steps:
        torch.set_num_threads(2)
        n = len(ids) // args.seq_len
        chunks = ids[:n * args.seq_len].view(n, args.seq_len)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
        model.train()
        for step in range(args.train_steps):
            batch = chunks[torch.randint(0, n, (16,))]
            loss = model(input_ids=batch, labels=batch).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"trained {args.train_steps} steps: last loss {loss.item():.3f}")
    model.eval().save_pretrained(args.out)
    tok.save(os.fspath(args.out / "tokenizer.json"))
    if args.tokens:
        args.tokens.write_text(" ".join(str(int(i)) for i in ids) + "\n")


if __name__ == "__main__":
    main()
