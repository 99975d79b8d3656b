"""Which language a question is in, and the one sentence staff get when the store's set-up cannot
answer in it (issue 17). The embedded models and the MiniLM embeddings were chosen and measured on
English; a Korean question sent to them came back as noise. So a question in a language that is
not in the `languages` setting (default "en") is answered by code, in that language where this
module has the sentence, and the model is not called.

Detection is by rule, tuned to never refuse an English question (every golden, analytics and
benchmark question reads as English: tests/answering/test_languages.py):
- a question whose letters are mostly of one non-Latin script is in that script's language
  (Hangul -> ko, kana -> ja, Han without kana -> zh, Cyrillic -> ru, ...);
- a question with "¿" or "¡" is Spanish;
- a Latin-script question is English unless it holds at least two function words of one other
  language and more of them than English ones ("Combien coûte le ...?" -> fr); a word typed
  without its accents counts ("cuanto" for "cuánto"). Product names carry no function words,
  so they do not tip it.

    >>> language_of("노트북 800달러 이하 추천해 주세요")
    'ko'
    >>> language_of("Is the LG C3 55 in stock at Westside?")
    'en'
"""

from __future__ import annotations

import re
import unicodedata

ENGLISH = "en"
# The first word of a character's Unicode name -> the language its script is written in here.
_SCRIPTS = {"HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja", "CJK": "zh", "CYRILLIC": "ru",
            "ARABIC": "ar", "HEBREW": "he", "THAI": "th", "DEVANAGARI": "hi", "GREEK": "el"}
# Words that carry no product meaning and mark a language; none of them is an English word.
_FUNCTION_WORDS = {
    "en": {"the", "is", "are", "do", "does", "did", "what", "how", "much", "many", "which", "of",
           "for", "and", "it", "can", "have", "has", "with", "on", "to", "any", "there", "a", "an",
           "my", "i", "you", "we", "our", "they", "this", "that", "if", "or", "under", "at", "in",
           "be", "will", "would", "should", "get", "from", "about", "than", "better", "where"},
    "es": {"el", "los", "las", "qué", "cuánto", "cuánta", "cuántos", "cuesta", "dónde", "tiene",
           "tienen", "tenemos", "para", "por", "con", "una", "del", "hay", "puedo", "cuál",
           "está", "están", "es", "y", "se", "su", "funciona", "mejor", "menos", "precio",
           "puede", "sin", "un", "devolver", "recibo", "producto", "tienda"},
    "fr": {"le", "les", "est", "sont", "quel", "quelle", "combien", "coûte", "où", "avez",
           "vous", "pour", "avec", "une", "des", "du", "et", "ce", "il", "peut", "moins",
           "prix", "magasin", "retourner", "fonctionne", "meilleur"},
    "de": {"der", "die", "das", "ist", "sind", "wie", "viel", "kostet", "haben", "sie", "für",
           "mit", "ein", "eine", "und", "gibt", "welche", "wo", "nicht", "kann", "ich", "im",
           "auf", "lager", "unter", "funktioniert", "zurückgeben"},
    "pt": {"os", "quanto", "custa", "onde", "tem", "vocês", "com", "uma", "um", "da", "não",
           "é", "posso", "qual", "funciona", "menos", "preço", "loja", "estoque", "sem",
           "devolver", "recibo", "produto"},
    "it": {"il", "gli", "è", "quanto", "costa", "dove", "avete", "per", "del", "della", "non",
           "posso", "qual", "funziona", "meno", "prezzo", "negozio", "senza", "scontrino",
           "restituire"},
}
# Said instead of an answer. English closes every sentence, for a colleague who reads English.
_CANNOT = {
    "ko": "죄송합니다. 이 도우미는 영어 질문에만 답할 수 있습니다. 영어로 다시 질문해 주세요.",
    "ja": "申し訳ありません。このアシスタントは英語の質問にのみお答えできます。英語でもう一度質問してください。",
    "zh": "抱歉，此助手只能回答英文问题。请用英文重新提问。",
    "es": "Lo siento: este asistente solo puede responder preguntas en inglés. Vuelva a preguntar "
          "en inglés, por favor.",
    "fr": "Désolé : cet assistant ne peut répondre qu'aux questions en anglais. Merci de reposer "
          "la question en anglais.",
    "de": "Entschuldigung: Dieser Assistent kann nur Fragen auf Englisch beantworten. Bitte "
          "stellen Sie die Frage auf Englisch.",
    "pt": "Desculpe: este assistente só responde a perguntas em inglês. Pergunte novamente em "
          "inglês, por favor.",
    "it": "Mi dispiace: questo assistente risponde solo a domande in inglese. Ripeti la domanda "
          "in inglese, per favore.",
    "ru": "Извините, этот помощник отвечает только на вопросы на английском языке. Задайте "
          "вопрос по-английски.",
}
_ENGLISH_SENTENCE = "I can only answer questions in English here; please ask in English."
# For a set-up that serves other languages too: "cannot answer in <this language>"; the English
# sentence after it names the languages it can.
_NOT_IN = {
    "ko": "죄송합니다. 이 도우미는 한국어 질문에 답할 수 없습니다.",
    "ja": "申し訳ありません。このアシスタントは日本語の質問にはお答えできません。",
    "zh": "抱歉，此助手无法回答中文问题。",
    "es": "Lo siento: este asistente no puede responder preguntas en español.",
    "fr": "Désolé : cet assistant ne peut pas répondre aux questions en français.",
    "de": "Entschuldigung: Dieser Assistent kann keine Fragen auf Deutsch beantworten.",
    "pt": "Desculpe: este assistente não responde a perguntas em português.",
    "it": "Mi dispiace: questo assistente non risponde a domande in italiano.",
    "ru": "Извините, этот помощник не отвечает на вопросы на русском языке.",
}
# For the instruction to answer in the question's language, when the set-up serves it.
NAMES = {"en": "English", "ko": "Korean", "ja": "Japanese", "zh": "Chinese", "es": "Spanish",
         "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian", "ru": "Russian",
         "ar": "Arabic", "he": "Hebrew", "th": "Thai", "hi": "Hindi", "el": "Greek"}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _plain(word: str) -> str:
    """Lower case without accents: staff often type "cuanto" for "cuánto"."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_VOCABULARY = {lang: {_plain(w) for w in words} for lang, words in _FUNCTION_WORDS.items()}
_NON_LATIN_SHARE = 0.3


def language_of(text: str) -> str:
    """The question's language as a two-letter code; "en" unless the rules above are sure."""
    scripts: dict[str, int] = {}
    letters = 0
    for char in text:
        if not char.isalpha():
            continue
        letters += 1
        script = unicodedata.name(char, "").split(" ")[0]
        if script in _SCRIPTS:
            scripts[_SCRIPTS[script]] = scripts.get(_SCRIPTS[script], 0) + 1
    if letters and sum(scripts.values()) / letters >= _NON_LATIN_SHARE:
        if "ja" in scripts:  # Japanese mixes kana with Han characters
            return "ja"
        return max(scripts, key=scripts.get)
    if "¿" in text or "¡" in text:  # only Spanish opens a question or exclamation this way
        return "es"
    words = [w.lower() for w in _WORD.findall(text)]
    # A word typed with its accents must match as written ("è" is Italian, "é" Portuguese);
    # one typed without may match any accented form.
    counts = {lang: sum(w in _FUNCTION_WORDS[lang] if w != _plain(w) else w in plain
                        for w in words)
              for lang, plain in _VOCABULARY.items()}
    english = counts.pop(ENGLISH)
    best = max(counts, key=counts.get)
    if counts[best] >= 2 and counts[best] > english:
        return best
    return ENGLISH


def cannot_answer(language: str, served: list[str] | tuple[str, ...] = (ENGLISH,)) -> str:
    """One sentence saying this set-up cannot answer in `language`, in it where we have it,
    followed by the English one."""
    if tuple(served) != (ENGLISH,):
        names = [NAMES.get(code, code) for code in served]
        listed = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
        english = f"I can only answer questions in {listed} here; please ask in one of those."
        own = _NOT_IN.get(language)
        return f"{own} ({english})" if own else english
    own = _CANNOT.get(language)
    return f"{own} ({_ENGLISH_SENTENCE})" if own else _ENGLISH_SENTENCE


def answer_in(language: str) -> str:
    """The line added to the model's instructions for a question in a served language other than
    English: the manuals and the store facts are English, the staff member is not."""
    name = NAMES.get(language, language)
    return (f"The staff member asked in {name}. Write the whole answer in {name}, using the "
            f"English excerpts and facts above; keep product names, SKUs and prices exactly as "
            f"written.")
