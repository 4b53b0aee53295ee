// Minimal JSON for the telemetry protocol. Pure C#: compiles with Mono's mcs and inside Unity alike.
//
// Why not a library: Unity's JsonUtility exists only inside Unity and cannot read free-form objects, and
// System.Runtime.Serialization.Json would add an assembly to install. The protocol needs little: the client writes
// flat objects of strings (escaped here), and reads the server's small frames (parsed here).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace GameTelemetry
{
    internal static class TelemetryJson
    {
        /// <summary>Appends <paramref name="value"/> as a JSON string literal, quotes included.</summary>
        public static void WriteString(StringBuilder output, string value)
        {
            output.Append('"');
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                switch (c)
                {
                    case '"': output.Append("\\\""); break;
                    case '\\': output.Append("\\\\"); break;
                    case '\n': output.Append("\\n"); break;
                    case '\r': output.Append("\\r"); break;
                    case '\t': output.Append("\\t"); break;
                    case '\b': output.Append("\\b"); break;
                    case '\f': output.Append("\\f"); break;
                    default:
                        if (c < 0x20 || IsLoneSurrogate(value, i))
                        {
                            // Control characters must be escaped; a lone surrogate has no UTF-8 form, so it is
                            // escaped too rather than silently turned into U+FFFD by the encoder.
                            output.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            output.Append(c);
                        }
                        break;
                }
            }
            output.Append('"');
        }

        private static bool IsLoneSurrogate(string text, int i)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c)) return i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]);
            if (char.IsLowSurrogate(c)) return i == 0 || !char.IsHighSurrogate(text[i - 1]);
            return false;
        }

        /// <summary>
        /// Parses JSON text into <c>Dictionary&lt;string, object&gt;</c>, <c>List&lt;object&gt;</c>, <c>string</c>,
        /// <c>double</c>, <c>bool</c> or <c>null</c>. Throws <see cref="FormatException"/> on malformed input.
        /// </summary>
        public static object Parse(string text)
        {
            var parser = new Parser(text);
            object value = parser.ReadValue(0);
            parser.SkipWhitespace();
            if (!parser.AtEnd) throw parser.Error("unexpected text after the value");
            return value;
        }

        /// <summary>Reads a member of a parsed object as a string (null when absent or not a string).</summary>
        public static string GetString(IDictionary<string, object> obj, string name)
        {
            object value;
            return obj.TryGetValue(name, out value) ? value as string : null;
        }

        /// <summary>Reads a member of a parsed object as a number (null when absent or not a number).</summary>
        public static double? GetNumber(IDictionary<string, object> obj, string name)
        {
            object value;
            if (obj.TryGetValue(name, out value) && value is double) return (double)value;
            return null;
        }

        private sealed class Parser
        {
            // Server frames are flat; a depth limit keeps a hostile frame from overflowing the stack.
            private const int MaxDepth = 64;
            private readonly string text;
            private int position;

            public Parser(string text)
            {
                if (text == null) throw new ArgumentNullException("text");
                this.text = text;
            }

            public bool AtEnd { get { return position >= text.Length; } }

            public FormatException Error(string message)
            {
                return new FormatException("Invalid JSON at offset " + position + ": " + message);
            }

            public void SkipWhitespace()
            {
                while (!AtEnd && (text[position] == ' ' || text[position] == '\t' || text[position] == '\n' || text[position] == '\r'))
                {
                    position++;
                }
            }

            public object ReadValue(int depth)
            {
                if (depth > MaxDepth) throw Error("nested too deeply");
                SkipWhitespace();
                if (AtEnd) throw Error("unexpected end of input");
                char c = text[position];
                if (c == '{') return ReadObject(depth);
                if (c == '[') return ReadArray(depth);
                if (c == '"') return ReadString();
                if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                if (TryReadLiteral("true")) return true;
                if (TryReadLiteral("false")) return false;
                if (TryReadLiteral("null")) return null;
                throw Error("unexpected character '" + c + "'");
            }

            private Dictionary<string, object> ReadObject(int depth)
            {
                var result = new Dictionary<string, object>();
                position++; // '{'
                SkipWhitespace();
                if (TryRead('}')) return result;
                while (true)
                {
                    SkipWhitespace();
                    if (AtEnd || text[position] != '"') throw Error("expected a member name");
                    string name = ReadString();
                    SkipWhitespace();
                    if (!TryRead(':')) throw Error("expected ':'");
                    result[name] = ReadValue(depth + 1);
                    SkipWhitespace();
                    if (TryRead('}')) return result;
                    if (!TryRead(',')) throw Error("expected ',' or '}'");
                }
            }

            private List<object> ReadArray(int depth)
            {
                var result = new List<object>();
                position++; // '['
                SkipWhitespace();
                if (TryRead(']')) return result;
                while (true)
                {
                    result.Add(ReadValue(depth + 1));
                    SkipWhitespace();
                    if (TryRead(']')) return result;
                    if (!TryRead(',')) throw Error("expected ',' or ']'");
                }
            }

            private string ReadString()
            {
                position++; // opening quote
                var result = new StringBuilder();
                while (true)
                {
                    if (AtEnd) throw Error("unterminated string");
                    char c = text[position++];
                    if (c == '"') return result.ToString();
                    if (c < 0x20) throw Error("control character in a string");
                    if (c != '\\')
                    {
                        result.Append(c);
                        continue;
                    }
                    if (AtEnd) throw Error("unterminated escape");
                    char escape = text[position++];
                    switch (escape)
                    {
                        case '"': result.Append('"'); break;
                        case '\\': result.Append('\\'); break;
                        case '/': result.Append('/'); break;
                        case 'b': result.Append('\b'); break;
                        case 'f': result.Append('\f'); break;
                        case 'n': result.Append('\n'); break;
                        case 'r': result.Append('\r'); break;
                        case 't': result.Append('\t'); break;
                        case 'u': result.Append(ReadHexChar()); break;
                        default: throw Error("unknown escape '\\" + escape + "'");
                    }
                }
            }

            private char ReadHexChar()
            {
                if (position + 4 > text.Length) throw Error("short \\u escape");
                int code;
                if (!int.TryParse(text.Substring(position, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                {
                    throw Error("bad \\u escape");
                }
                position += 4;
                return (char)code; // surrogate pairs arrive as two escapes and join up in the string
            }

            private double ReadNumber()
            {
                int start = position;
                while (!AtEnd && "+-0123456789.eE".IndexOf(text[position]) >= 0) position++;
                double value;
                if (!double.TryParse(text.Substring(start, position - start), NumberStyles.Float, CultureInfo.InvariantCulture, out value))
                {
                    throw Error("bad number");
                }
                return value;
            }

            private bool TryReadLiteral(string literal)
            {
                if (string.CompareOrdinal(text, position, literal, 0, literal.Length) != 0) return false;
                position += literal.Length;
                return true;
            }

            private bool TryRead(char expected)
            {
                if (AtEnd || text[position] != expected) return false;
                position++;
                return true;
            }
        }
    }
}
