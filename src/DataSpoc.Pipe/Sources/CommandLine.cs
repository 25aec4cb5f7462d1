using System.Text;

namespace DataSpoc.Pipe.Sources;

/// <summary>Splits a command line the way a POSIX shell would for plain words, single and double quotes and backslashes.</summary>
public static class CommandLine
{
    public static List<string> Split(string command)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < command.Length; i++)
        {
            var c = command[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < command.Length && command[i + 1] is '"' or '\\' or '$') current.Append(command[++i]);
                else current.Append(c);
            }
            else if (c is '\'' or '"') { quote = c; inWord = true; }
            else if (c == '\\' && i + 1 < command.Length) { current.Append(command[++i]); inWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(current.ToString()); current.Clear(); inWord = false; }
            }
            else { current.Append(c); inWord = true; }
        }
        if (quote != '\0') throw new FormatException($"unclosed quote in command '{command}'");
        if (inWord) words.Add(current.ToString());
        return words;
    }
}
