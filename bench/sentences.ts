// The tokenizer benchmarks' text: the seed table's sentences and options, shared by the deno bench file,
// the JSON cases for the report, and the Transformers.js comparison.

// Ordinary English sentences of 15-40 words, mixed case and punctuation.
export const SENTENCES = [
  "The committee announced on Tuesday that the new bridge, which cost nearly two billion dollars, will open to traffic next spring.",
  "I can't believe how quickly the kids finished their homework once they heard we were going out for pizza tonight!",
  "Researchers at the university found that people who walk for thirty minutes a day sleep better and report lower stress.",
  "Despite the heavy rain, thousands of fans gathered outside the stadium, singing and waving flags long after the final whistle.",
  "She opened the old wooden box carefully, expecting letters or photographs, but found only a single brass key wrapped in silk.",
  "The film's second half drags badly, yet the performances are strong enough that most viewers won't mind the slow pace.",
  "According to the latest report, global shipping costs rose by 12% in March as fuel prices and port delays increased again.",
  "If you're planning to visit Kyoto in autumn, book your hotel early: the best places fill up months in advance.",
  "He said the software update fixed the battery problem, but several users on the forum still complain about overheating phones.",
  "Our neighbours adopted a tiny grey kitten last week, and it has already learned to open the kitchen cupboard by itself.",
  "The museum's new exhibition brings together paintings, letters and maps that tell the story of the city's first harbour.",
  "Honestly, the service was slow and the soup was cold, but the dessert was so good that we'd probably go back.",
  "Engineers replaced the aging water pipes under Main Street over the summer, finishing two weeks ahead of the original schedule.",
  "Nobody expected the underdog team to win the championship, least of all the coach, who had planned his retirement party.",
  "After years of debate, the council finally approved a plan to turn the abandoned rail yard into a public park with gardens.",
  "The author's latest novel is a gripping, funny and surprisingly tender story about three sisters who inherit a failing bakery.",
  "Please remember to switch off the lights and lock the back door before you leave the office tonight.",
  "Although the forecast had promised clear skies for the whole weekend, a cold front moved in on Saturday morning, and by noon the campsite was soaked, the tents were sagging, and everyone was crowded into the tiny cabin playing cards.",
  "The quarterly results beat expectations: revenue grew 8%, margins improved, and the company raised its full-year guidance for the second time.",
  "When the power went out across the whole neighbourhood, people brought candles, blankets and leftover food into the street, and what started as an inconvenience turned into the friendliest evening anyone could remember in years.",
];

/** Batch options of the seed table's tokenizer rows. */
export const BATCH_OPTIONS = { padding: "longest", truncation: true, maxLength: 128 } as const;

/** 1,000,000 characters of the sentences repeated. */
export function oneMegabyte(): string {
  const text = SENTENCES.join(" ");
  return text.repeat(Math.ceil(1_000_000 / text.length)).slice(0, 1_000_000);
}
