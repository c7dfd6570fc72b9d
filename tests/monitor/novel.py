"""A request type the packaged model has never seen (transposing chord progressions), for the input-drift tests.

It was calculus homework until the corpus gained lone everyday messages (authors c67-c70, maths among
them, 2026-12-07): those made derivatives familiar (median similarity to the nearest training case
0.55, over the novelty threshold of about 0.42); chord transposition sits at 0.37.
"""

_PROGRESSIONS = ["C-Am-F-G", "D-Bm-G-A", "E-C#m-A-B", "F-Dm-Bb-C", "G-Em-C-D", "A-F#m-D-E", "Bb-Gm-Eb-F", "Eb-Cm-Ab-Bb"]
_INTERVALS = ["minor third", "perfect fourth", "major second", "perfect fifth", "semitone"]
CHORDS = [(f"Transpose the chord progression {p} up a {i}.",
           "Each chord moves by the same interval; the quality of each chord stays the same.")
          for p in _PROGRESSIONS for i in _INTERVALS]
