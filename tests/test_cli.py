"""The command line as a user runs it: real processes, real exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SEED, SHARED_EVAL


def run(*args: str, models_dir: Path, catalog: Path | None = None, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASEAN_MT_MODELS_DIR": str(models_dir), **(env or {})}
    if catalog:
        full_env["ASEAN_MT_CATALOG_PATH"] = str(catalog)
    return subprocess.run([sys.executable, "-m", "service", *args], cwd=REPO, env=full_env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_main_job_offline_translates_malay_and_names_missing_models(tmp_path: Path) -> None:
    done = run("translate", str(SEED), "--from", "id", "--to", "en,ms,th,vi,tl,km,lo,my", models_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    out, table = done.stdout, done.stderr  # the translations on stdout, the status table on stderr
    assert "=== Indonesian -> Malay [apertium: ind-zlm] ===" in out
    assert "Mesyuarat Tahunan" in out
    assert "python -m service models pull Helsinki-NLP/opus-mt-id-en" in table and "models pull" not in out
    for code in ("th", "vi", "tl", "km", "lo", "my"):
        line = next(line for line in table.splitlines() if line.startswith(f"{code} ("))
        # the permissive default suggests the smallest model it may run, and says which one it skipped
        assert "python -m service models pull facebook/m2m100_418M" in line and "mit" in line
        assert "license_policy = permissive skips facebook/nllb-200-distilled-600M: cc-by-nc-4.0 (non-commercial)" \
            in line
    assert "Traceback" not in done.stderr


def test_models_pull_with_hub_unreachable(tmp_path: Path) -> None:
    done = run("models", "pull", "Helsinki-NLP/opus-mt-id-en", models_dir=tmp_path)
    assert done.returncode == 4
    assert done.stderr.startswith("error: Could not download Helsinki-NLP/opus-mt-id-en")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_models_list_and_json_output(models_dir: Path, catalog_path: Path) -> None:
    listed = run("models", "list", models_dir=models_dir, catalog=catalog_path)
    assert listed.returncode == 0, listed.stderr
    assert "installed: tiny/nllb (transformers, ctranslate2)" in listed.stdout
    assert "id-en  served by ctranslate2:tiny/marian-id-en" in listed.stdout
    assert "id-ms  served by apertium:ind-zlm" in listed.stdout
    done = run("translate", "-", "--to", "en,km", "--format", "json", models_dir=models_dir, catalog=catalog_path,
               stdin="Kementerian Dalam Negeri berencana menyelenggarakan kegiatan untuk kota-kota cerdas.\n")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert (payload["source"], payload["detected"]) == ("id", True)
    assert [(r["target"], r["engine"], r["model"]) for r in payload["results"]] == [
        ("en", "ctranslate2", "tiny/marian-id-en"), ("km", "ctranslate2", "tiny/nllb")]
    assert all(r["error"] is None and r["stats"]["segments"] == 1 for r in payload["results"])


def test_models_add_installs_and_converts(tmp_path: Path, models_dir: Path) -> None:
    source = models_dir / "tiny--t5" / "hf"
    done = run("models", "add", str(source), "--name", "someone/t5-copy", models_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "someone--t5-copy" / "ctranslate2" / "model.bin").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["someone--t5-copy"]
    bad = run("models", "add", str(tmp_path / "nope"), "--name", "x/y", models_dir=tmp_path)
    assert bad.returncode == 2 and "has no config.json" in bad.stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (["translate", "/no/such/file", "--to", "ms"], 2, "Cannot read /no/such/file"),
    (["translate", str(SEED), "--to", "xx"], 2, "Unknown language code 'xx'"),
    (["translate", str(SEED), "--from", "id", "--to", "en"], 3, "needs model Helsinki-NLP/opus-mt-id-en"),
])
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    done = run(*args, models_dir=tmp_path)
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not SHARED_EVAL.is_dir(), reason="needs ../shared/eval")
def test_eval_prints_scores_and_throughput(tmp_path: Path) -> None:
    pair = SHARED_EVAL / "ind-msa"
    done = run("eval", "--src", str(pair / "tico19-test.ind"), "--ref", str(pair / "tico19-test.msa"),
               "--from", "id", "--to", "ms", "--limit", "50", models_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "id->ms  apertium: ind-zlm  lines 50" in done.stdout
    bleu = float(done.stdout.split("BLEU ")[1].split()[0])
    assert 10 < bleu < 90  # a real rule-based system on real data: neither zero nor a copy
    assert "chrF++" in done.stdout and "lines/s" in done.stdout


def test_eval_rejects_misaligned_files(tmp_path: Path) -> None:
    src, ref = tmp_path / "a", tmp_path / "b"
    src.write_text("satu\ndua\n")
    ref.write_text("one\n")
    done = run("eval", "--src", str(src), "--ref", str(ref), "--from", "id", "--to", "ms", models_dir=tmp_path)
    assert done.returncode == 2 and "must be aligned" in done.stderr


def test_translate_with_glossary_prints_the_report(tmp_path: Path) -> None:
    done = run("translate", str(SEED), "--from", "id", "--to", "ms", "--glossary", "asean-smart-cities",
               "--glossary-report", "full", models_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--- glossary asean-smart-cities: " in done.stderr and " terms right (100%)" in done.stderr
    assert "ok   [0:9] Indonesia -> Indonesia" in done.stderr
    assert "Rangkaian Bandar Pintar ASEAN (ASCN)" in done.stdout and "glossary" not in done.stdout
    plain = run("translate", str(SEED), "--from", "id", "--to", "ms", "--no-glossary", models_dir=tmp_path)
    assert "--- glossary" not in plain.stderr and "bandar-bandar cerdas" in plain.stdout
    as_json = run("translate", "-", "--from", "id", "--to", "ms", "--format", "json", models_dir=tmp_path,
                  stdin="Kemlu dan KBRI hadir di Kualalumpur.")
    report = json.loads(as_json.stdout)["results"][0]["glossary"]
    assert report["compliance"] == 1.0 and report["terms_found"] == 3
    assert report["terms"][2] == {"term": "Kuala Lumpur", "source": "Kualalumpur", "start": 24, "end": 35,
                                  "required": "Kuala Lumpur", "present": True, "method": "protected"}
    unknown = run("translate", str(SEED), "--to", "ms", "--glossary", "nope", models_dir=tmp_path)
    assert unknown.returncode == 2 and "No glossary named 'nope'" in unknown.stderr


def test_glossary_list_and_check(tmp_path: Path) -> None:
    listed = run("glossary", "list", models_dir=tmp_path)
    assert listed.returncode == 0
    assert "asean-smart-cities  " in listed.stdout and "(default)" in listed.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("id,en,xx\nkota,city,x\n", encoding="utf-8")
    checked = run("glossary", "check", str(bad), models_dir=tmp_path)
    assert checked.returncode == 6
    assert checked.stdout.startswith("bad.csv:1: unknown language columns")
    good = run("glossary", "check", str(REPO / "glossary" / "asean-smart-cities.csv"), models_dir=tmp_path)
    assert good.returncode == 0 and "no problems" in good.stdout
    broken_dir = tmp_path / "glossaries"
    broken_dir.mkdir()
    (broken_dir / "mine.csv").write_text("id,en\nkota,city\nKota,town\n", encoding="utf-8")
    listed = run("glossary", "list", models_dir=tmp_path, env={"ASEAN_MT_GLOSSARY_DIR": str(broken_dir)})
    assert "mine  BROKEN, not used: 1 problem;" in listed.stdout


def test_eval_terms_translates_and_scores(tmp_path: Path) -> None:
    src, ref = tmp_path / "src.id", tmp_path / "ref.ms"
    src.write_text("Delegasi dari Kamboja dan Laos hadir.\nPertemuan di Kualalumpur.\n", encoding="utf-8")
    ref.write_text("Perwakilan dari Kemboja dan Laos hadir.\nMesyuarat di Kuala Lumpur.\n", encoding="utf-8")
    done = run("eval-terms", "--src", str(src), "--ref", str(ref), "--from", "id", "--to", "ms", models_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "term exact-match accuracy 100.0%: 3/3 terms" in done.stdout
    hyp = tmp_path / "hyp.ms"
    hyp.write_text("Delegasi dari kemboja dan Laos hadir.\nMesyuarat di Kualalumpur.\n", encoding="utf-8")
    scored = run("eval-terms", "--src", str(src), "--ref", str(ref), "--hyp", str(hyp), "--from", "id", "--to", "ms",
                 models_dir=tmp_path)
    assert "2/3 terms" in scored.stdout  # "kemboja" counts: the entry is case-insensitive
    assert "line 2: Kualalumpur -> Kuala Lumpur" in scored.stdout


def test_summarize_command(tmp_path: Path) -> None:
    done = run("summarize", str(SEED), "--sentences", "3", models_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Indonesia kembali dipilih untuk menjalankan perannya sebagai Shepherd")
    as_json = json.loads(run("summarize", "-", "--words", "30", "--format", "json", models_dir=tmp_path,
                             stdin=SEED.read_text(encoding="utf-8")).stdout)
    assert (as_json["language"], as_json["method"]) == ("id", "extractive")
    assert len(as_json["text"].split()) <= 30
    bad = run("summarize", str(SEED), "--ratio", "2", models_dir=tmp_path)
    assert bad.returncode == 2 and "ratio must be above 0" in bad.stderr
    missing = run("summarize", str(SEED), "--method", "abstractive", models_dir=tmp_path)
    assert missing.returncode == 3
    # XL-Sum is non-commercial: the permissive default points to an LLM server instead, and says why
    assert "needs LLM" in missing.stderr and "set openai_base_url" in missing.stderr
    assert "skips csebuetnlp/mT5_multilingual_XLSum: cc-by-nc-sa-4.0 (non-commercial)" in missing.stderr
    opted_in = run("summarize", str(SEED), "--method", "abstractive", models_dir=tmp_path,
                   env={"ASEAN_MT_LICENSE_POLICY": "any"})
    assert opted_in.returncode == 3 and "models pull csebuetnlp/mT5_multilingual_XLSum" in opted_in.stderr


def test_main_job_shows_summaries(tmp_path: Path) -> None:
    done = run("translate", str(SEED), "--from", "id", "--to", "ms,en", "--summary", "--sentences", "2",
               models_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "=== Summary, Indonesian [extractive] ===\nIndonesia kembali dipilih" in done.stdout
    assert "--- summary, Malay [source summary, translated]\nIndonesia kembali dipilih" in done.stdout


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for leak in ("Traceback", "Error:", "Exception", "OperationalError", "connection refused", "(s)"):
        assert leak not in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args", [["translate", str(SEED), "--from", "id", "--to", "ms", "-q"],
                                  ["models", "list", "--all"]])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path, args: list[str]) -> None:
    """`... | head -1`: the reader goes away; the command stops with SIGPIPE's exit status and says nothing."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASEAN_MT_MODELS_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "service", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.close()  # before the command writes anything: every write meets a closed pipe
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141 and err == ""


def test_every_failure_is_one_sentence_with_its_exit_code(tmp_path: Path) -> None:
    taken = tmp_path / "results.txt"
    taken.write_text("not a folder", encoding="utf-8")
    done = run("batch", str(SEED), "--to", "ms", "--from", "id", "--out", str(taken), models_dir=tmp_path)
    assert done.returncode == 2 and "is a file; give a folder" in one_line_error(done)

    from tests.services import free_port

    unreachable = f"postgresql+psycopg://postgres:secret@127.0.0.1:{free_port()}/jobs"
    done = run("worker", models_dir=tmp_path, env={"ASEAN_MT_JOBS_DATABASE_URL": unreachable,
                                                   "ASEAN_MT_DATA_DIR": str(tmp_path / "data")})
    line = one_line_error(done)
    assert done.returncode == 7 and "cannot be reached; start it, or correct jobs_database_url" in line
    assert "secret" not in line  # the password is not repeated

    config = tmp_path / "bad.toml"
    config.write_text("beam_size = = 4\n", encoding="utf-8")
    done = run("translate", str(SEED), "--to", "ms", "--config", str(config), models_dir=tmp_path)
    assert done.returncode == 6 and "is not valid TOML (line 1)" in one_line_error(done)

    done = run("translate", str(tmp_path / "missing.txt"), "--to", "ms", models_dir=tmp_path)
    assert done.returncode == 2 and one_line_error(done) == (f"error: Cannot read {tmp_path / 'missing.txt'}: No such "
                                                             "file or directory.")
    done = run("models", "pull", "Helsinki-NLP/opus-mt-id-en", models_dir=tmp_path)
    assert done.returncode == 4 and "downloads are turned off here (HF_HUB_OFFLINE is set)" in one_line_error(done)


# -- issue 11: a good Unix citizen, detection commands, empty input ------------------------------------------------
SAYA = "Saya pergi ke pasar untuk membeli ikan.\n"


def test_the_issue_sentence_translates_from_stdin_with_only_the_translation_on_stdout(tmp_path: Path) -> None:
    done = run("translate", "-", "--to", "ms", models_dir=tmp_path, stdin=SAYA)
    assert done.returncode == 0, done.stderr
    assert done.stdout == SAYA  # Apertium's Malay happens to be the same words; nothing else on stdout
    assert "uncertain: Malay" in done.stderr and "translating from Indonesian" in done.stderr
    assert "ms (Malay)  apertium: ind-zlm" in done.stderr
    quiet = run("translate", "-", "--to", "ms", "-q", models_dir=tmp_path, stdin="Saya bisa datang.\n")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "Saya boleh datang.\n", "")


def test_report_file_out_dir_and_glossary_report_sizes(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    done = run("translate", str(SEED), "--from", "id", "--to", "ms", "--report", str(report),
               "--glossary-report", "full", models_dir=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("Indonesia Kembali Terpilih sebagai ASCN Shepherd pada Mesyuarat Tahunan ASCN")
    text = report.read_text()
    assert "ok   [0:9] Indonesia -> Indonesia" in text and "protected spans: 1/1 kept exactly" in text
    summary = run("translate", str(SEED), "--from", "id", "--to", "ms", models_dir=tmp_path)
    assert "terms right (100%)" in summary.stderr and "ok   [0:9]" not in summary.stderr
    none = run("translate", str(SEED), "--from", "id", "--to", "ms", "--glossary-report", "none", models_dir=tmp_path)
    assert "glossary" not in none.stderr and "ms (Malay)" in none.stderr
    out = tmp_path / "out"
    multi = run("translate", str(SEED), "--from", "id", "--to", "ms,en", "--out", str(out), models_dir=tmp_path)
    assert multi.returncode == 0 and multi.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["ascn-shepherd-2025.ms.txt"]  # en has no model here
    assert (out / "ascn-shepherd-2025.ms.txt").read_text() == summary.stdout
    as_json = run("translate", "-", "--from", "id", "--to", "ms", "--out", str(out), "--format", "json",
                  models_dir=tmp_path, stdin=SAYA)
    payload = json.loads((out / "stdin.ms.json").read_text())
    assert payload["result"]["text"] == SAYA and payload["source"] == "id"
    assert as_json.stdout == ""


def test_detect_and_eval_detect(tmp_path: Path) -> None:
    text = tmp_path / "mixed.txt"
    text.write_text("Kementerian Dalam Negeri berencana menyelenggarakan kegiatan untuk kota-kota cerdas.\n\n"
                    "Kota cerdas\nสวัสดีครับ\n12345\n", encoding="utf-8")
    done = run("detect", str(text), "--lines", models_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0].startswith("id\t") and float(lines[0].split("\t")[1]) >= 0.9 and lines[1] == ""
    assert lines[2].startswith("uncertain\t") and "\tusing " in lines[2]
    assert lines[3] == "th\t1.00" and lines[4].startswith("error\tCannot detect")
    whole = run("detect", "-", "--format", "json", models_dir=tmp_path, stdin=SAYA)
    body = json.loads(whole.stdout)
    assert body["language"] == "uncertain" and {c["language"] for c in body["candidates"]} == {"id", "ms"}
    sample = tmp_path / "ms.txt"
    sample.write_text("Kerajaan akan membelanjakan wang itu untuk sukan.\nKami boleh pergi ke pejabat dengan "
                      "kereta hari ini.\n", encoding="utf-8")
    measured = run("eval-detect", "--lang", "ms", str(sample), models_dir=tmp_path)
    assert measured.returncode == 0, measured.stderr
    assert "ms: 2 items, 2 right (100.00%)" in measured.stdout


@pytest.mark.parametrize("command", [["translate", "-", "--to", "ms"], ["summarize", "-"], ["detect", "-"],
                                     ["translate", "-", "--to", "ms", "--from", "id"]])
def test_empty_input_is_one_clear_error(tmp_path: Path, command: list[str]) -> None:
    done = run(*command, models_dir=tmp_path, stdin=" \n\t\n")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "error: The text is empty: give some text to work on.\n"
