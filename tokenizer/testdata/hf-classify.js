// Classifies every code point as the HF (Oniguruma) Qwen pre-tokenizer sees it:
// L letter, N number, W whitespace, O other. Writes ranges as JSON.
const {Tokenizer}=require('tokenizers');
const p=Tokenizer.fromFile('/tmp/hftok/qwen3.json').getPreTokenizer();
const n=s=>p.preTokenizeString(s).length;
const out=[];let cur=null;
for(let c=0x80;c<=0x10FFFF;c++){
  if(c>=0xD800&&c<=0xDFFF)continue;
  const ch=String.fromCodePoint(c);
  const a=n('.'+ch)==1, b=n(ch+'.')==1;
  let k;
  if(a&&!b)k='L';else if(a&&b)k='O';else k=(n(ch+ch)==1?'W':'N');
  if(cur&&cur[2]==k&&cur[1]==c-1)cur[1]=c;else{cur=[c,c,k];out.push(cur);}
}
require('fs').writeFileSync(process.argv[2],JSON.stringify(out));
